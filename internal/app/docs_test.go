package app

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/architecture.md names the file that owns each step: every path it
// names exists.
func TestArchitecturePageNamesFilesThatExist(t *testing.T) {
	root := filepath.Join("..", "..")
	page, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	paths := regexp.MustCompile("`((?:internal|receivers|sinks|rules|cmd|bench)/[^`*<> ]+)`").FindAllStringSubmatch(string(page), -1)
	if len(paths) < 20 {
		t.Fatalf("found %d file paths in the page, want the spine's files", len(paths))
	}
	for _, m := range paths {
		p := strings.TrimSuffix(m[1], "/")
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("docs/architecture.md names %s: %v", p, err)
		}
	}
}
