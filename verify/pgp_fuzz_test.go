package verify

import "testing"

// FuzzSignaturePacket feeds arbitrary bytes to the signature packet
// reader: it must return a packet or an error, never panic.
func FuzzSignaturePacket(f *testing.F) {
	// A V3 RSA packet header and a V4 one, as gpg1 and gpg write them.
	f.Add([]byte{0x89, 0x01, 0x15, 3, 5, 0, 1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 1, 8, 0xab, 0xcd, 0, 8, 0xff})
	f.Add([]byte{0x89, 0x01, 0x0a, 4, 0, 1, 8, 0, 6, 5, 2, 1, 2, 3, 4, 0, 10, 9, 16, 1, 2, 3, 4, 5, 6, 7, 8, 0xab, 0xcd, 0, 8, 0xff})
	keys, err := LoadKeyring("../testdata/keys/test.pub")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSignaturePacket(data)
		if err != nil {
			return
		}
		h, err := s.newHash()
		if err != nil {
			return
		}
		h.Write(data)
		s.pubAlgo = byte(keys[0].PrimaryKey.PubKeyAlgo)
		_ = s.check(h, keys[0].PrimaryKey)
	})
}
