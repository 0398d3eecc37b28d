package repodata

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeQuotesGenSh checks that testdata/README.md quotes the current
// testdata/gen.sh, so that its commands can be run from either.
func TestReadmeQuotesGenSh(t *testing.T) {
	readme, err := os.ReadFile("testdata/README.md")
	if err != nil {
		t.Fatal(err)
	}
	gen, err := os.ReadFile("testdata/gen.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```sh\n"+string(gen)+"```\n") {
		t.Error("testdata/README.md does not quote testdata/gen.sh: copy the script into it")
	}
}
