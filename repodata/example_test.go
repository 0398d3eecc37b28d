package repodata_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/rpmirror/rpmirror/repodata"
)

// Reading the packages of a repository: repomd.xml says where primary.xml
// is; Decompress and PrimaryReader read it.
func Example() {
	dir := "testdata/repos/sha512-xz"
	b, err := os.ReadFile(filepath.Join(dir, "repodata/repomd.xml"))
	if err != nil {
		log.Fatal(err)
	}
	repomd, err := repodata.ParseRepomd(b)
	if err != nil {
		log.Fatal(err)
	}
	primary, ok := repomd.Find("primary")
	if !ok {
		log.Fatal("no primary.xml")
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(primary.Href)))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rc, err := repodata.Decompress(f, primary.Href)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()

	pr := repodata.NewPrimaryReader(rc)
	fmt.Println(pr.Declared(), "packages")
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.NEVRA(), p.Checksum.Type, p.Href)
	}
	// Output:
	// 6 packages
	// epochy-3:2.0~rc1-4.el9.noarch sha512 odd & dir/epochy-2.0~rc1-4.el9.noarch.rpm
	// epochy-3:2.0~rc1-4.el9.src sha512 src/epochy-2.0~rc1-4.el9.src.rpm
	// tiny-0:1.0-1.src sha512 src/tiny-1.0-1.src.rpm
	// tiny-0:1.0-1.x86_64 sha512 x86_64/tiny-1.0-1.x86_64.rpm
	// tiny-data-0:1.0-1.noarch sha512 x86_64/tiny-data-1.0-1.noarch.rpm
	// tiny-devel-0:1.0-1.x86_64 sha512 x86_64/tiny-devel-1.0-1.x86_64.rpm
}
