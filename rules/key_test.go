package rules

import (
	"strings"
	"testing"
)

func TestCompileKey(t *testing.T) {
	tests := []struct{ src, err string }{
		{"subject", ""},
		{"data.DestinationFax", ""},
		{`receiver + "/" + string(code)`, ""},
		{"time", ""},
		{"subjekt", "unknown name subjekt"},
		{"data", "must be a string, number or bool, not map"},
		{"[subject]", "must be a string, number or bool, not []"},
		{"  ", "empty expression"},
	}
	for _, tc := range tests {
		_, err := CompileKey(tc.src)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CompileKey(%q) = %v, want %q", tc.src, err, tc.err)
		}
	}
}

// Route sets the thread key of the matches to a threaded sink only; a key
// that fails leaves the message un-threaded and reports the rule.
func TestRouteThreads(t *testing.T) {
	f := mustParse(t, routingSinks+"rules:\n- {name: r1, when: 'true', to: [a, b]}\n")
	by, err := CompileKey("subject")
	if err != nil {
		t.Fatal(err)
	}
	bad, err := CompileKey("data.Missing.Deeper")
	if err != nil {
		t.Fatal(err)
	}
	f.Router.SetThreads(map[string]*Key{"a": by})
	res := f.Router.Route(failedFax())
	if len(res.Matches) != 2 || res.Matches[0].Thread != "664598111" || res.Matches[1].Thread != "" {
		t.Fatalf("matches = %+v, want sink a threaded by subject, b not", res.Matches)
	}
	f.Router.SetThreads(map[string]*Key{"b": bad})
	res = f.Router.Route(failedFax())
	if len(res.Matches) != 2 || res.Matches[1].Thread != "" {
		t.Fatalf("matches = %+v", res.Matches)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), `rule "r1": sink "b": thread:`) {
		t.Errorf("errors = %v, want the failed thread key", res.Errors)
	}
}
