package portal

import (
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestTextsComplete checks that every text key the templates and the Go
// code use has a text in every catalogue, so that a translation is
// complete when it has the keys of the English one.
func TestTextsComplete(t *testing.T) {
	keyRE := regexp.MustCompile(`\b(?:t|tf)\s+"([a-z0-9_.]+)"|\.get\("([a-z0-9_.]+)"\)|\.getf\("([a-z0-9_.]+)"`)
	used := map[string]bool{}
	scan := func(name, src string) {
		for _, m := range keyRE.FindAllStringSubmatch(src, -1) {
			used[m[1]+m[2]+m[3]] = true
		}
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		bz, _ := templateFS.ReadFile(n)
		scan(n, string(bz))
	}
	gos, _ := fs.Glob(os.DirFS("."), "*.go")
	for _, n := range gos {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		bz, _ := os.ReadFile(n)
		scan(n, string(bz))
	}
	if len(used) < 50 {
		t.Fatalf("found only %d text keys in use: the scan is broken", len(used))
	}
	for lang, texts := range catalogues {
		for k := range used {
			if _, ok := texts[k]; !ok {
				t.Errorf("catalogue %q has no text for %q", lang, k)
			}
		}
		for k := range english {
			if _, ok := texts[k]; !ok {
				t.Errorf("catalogue %q lacks %q", lang, k)
			}
		}
	}
	// Keys built at run time: the titles of the error pages, statuses.
	for _, k := range []string{"err.notfound", "err.height", "err.badrequest", "err.unreachable", "err.badgateway", "err.method", "err.toolong"} {
		if _, ok := english[k+".title"]; !ok {
			t.Errorf("no title for %s", k)
		}
	}
	for _, list := range statuses {
		for _, s := range list {
			if _, ok := english["status."+s]; !ok {
				t.Errorf("no plain-language label for status %q", s)
			}
		}
	}
}
