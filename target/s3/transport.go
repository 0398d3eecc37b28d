package s3

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"syscall"
	"time"
)

// transport is the http.RoundTripper of the target's clients, around
// the one minio-go builds. It records the store's clock for the requests
// that ask (dateKey), and sends the body of a single PUT from the local
// file itself (fileKey).
type transport struct{ base http.RoundTripper }

// dateKey carries a *time.Time in a request's context, which transport
// sets to the Date of the response: the store's clock.
type dateKey struct{}

// fileKey carries a *fileBody in the context of a single PUT of a whole
// local file: transport sends that file as the request's body.
//
// minio-go hands net/http the file wrapped in readers of its own (a
// section and a progress hook), which net/http copies through a 32 KiB
// buffer it allocates for every request: a read and a write system call
// for every 32 KiB, and a buffer for the garbage collector. The file
// itself lets net/http send it with sendfile(2) over plain HTTP: the
// kernel moves the bytes, in one call. The bytes are the same: minio-go
// reads nothing of a body it sends unsigned (UNSIGNED-PAYLOAD, see
// DisableContentSha256 in put), and transport checks that it is one
// (see fileBody.fits) before it swaps the body.
type fileKey struct{}

// fileBody is the body of a single PUT of f, size bytes long, from f's
// position (0: a file just opened). Its Close does not close f (put
// does), and it is not an *os.File, so that net/http's copy finds it
// through syscall.Conn, which net uses for sendfile.
//
// It serves one request: the first. Should minio-go send the PUT again
// (the store answered 503), or put send the file again, minio-go's own
// reader, which reads at offsets (ReadAt), sends it: a request whose
// store answered before it read the whole body may still be sending it
// from f's position, and no other request may depend on that position.
type fileBody struct {
	f    *os.File
	size int64
	used bool // a request took it
}

func (b *fileBody) Read(p []byte) (int, error) { return b.f.Read(p) }

// SyscallConn lets net/http send the file with sendfile(2).
func (b *fileBody) SyscallConn() (syscall.RawConn, error) { return b.f.SyscallConn() }

// Close does nothing: put closes the file.
func (b *fileBody) Close() error { return nil }

// fits reports whether r is a single PUT of the whole file whose body
// minio-go sends as it is: the length of the file, unsigned, not
// aws-chunked (a streaming signature or trailing checksums frame the
// bytes), so that the file can stand in for it.
func (b *fileBody) fits(r *http.Request) bool {
	return r.Method == http.MethodPut && r.Body != nil && r.ContentLength == b.size &&
		r.Header.Get("X-Amz-Content-Sha256") == "UNSIGNED-PAYLOAD" &&
		r.Header.Get("Content-Encoding") == "" && len(r.TransferEncoding) == 0 && len(r.Trailer) == 0 &&
		r.URL.Query().Get("partNumber") == ""
}

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if b, ok := r.Context().Value(fileKey{}).(*fileBody); ok && !b.used && b.fits(r) {
		b.used = true
		r.Body.Close() // minio-go's reader over the same file, unread
		r2 := *r
		r2.Body = b
		r = &r2
	}
	resp, err := t.base.RoundTrip(r)
	if err == nil && resp.StatusCode >= 300 && r.Method != http.MethodHead && !s3Error(resp) {
		notS3(r, resp)
	}
	if err == nil {
		if p, ok := r.Context().Value(dateKey{}).(*time.Time); ok {
			if d, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
				*p = d
			}
		}
	}
	return resp, err
}

// s3Error reports whether resp, an error answer, may be an S3 error
// document (XML, or a body too small to be a web page).
func s3Error(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "" || mt == "application/xml" || mt == "text/xml"
}

// notS3 replaces the body of an error answer that is no S3 error
// document (a web server's HTML page: an endpoint that is the mirror's
// web front, not the store) with one whose message says so in a line.
// minio-go would otherwise give the whole page as the error's message.
func notS3(r *http.Request, resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	var doc struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}
	doc.Code = resp.Status
	doc.Message = fmt.Sprintf("%s answered %s with a %s page, not an S3 error: is endpoint the object store's S3 URL (not a web server in front of it)?",
		r.URL.Host, resp.Status, resp.Header.Get("Content-Type"))
	b, _ := xml.Marshal(doc)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Type", "application/xml")
	resp.Header.Del("Content-Length")
}
