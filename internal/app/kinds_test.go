package app

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers/interfax"
	"github.com/switchboard/switchboard/receivers/telesign"
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks"
)

// An event read back from the store has no kind in its JSON: the sinks the
// wiring builds get it from the receivers' table, so a default Slack message
// still highlights the fax's fields. The wrapper keeps the sink's rate limit
// visible to the delivery workers.
func TestSinksGetKinds(t *testing.T) {
	got := make(chan string, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		io.WriteString(w, "ok")
	}))
	defer hook.Close()
	f, err := rules.Parse("rules.yaml", strings.NewReader(`
sinks:
  ops: {type: slack, webhook_url: "`+hook.URL+`", rate_limit: 3}
rules:
  - {name: all, when: "true", to: [ops]}
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(f, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sink := b.Targets[0].Sink
	if r, ok := sink.(interface{ Rate() float64 }); !ok || r.Rate() != 3 {
		t.Errorf("the built sink hides its rate limit")
	}

	parsed := &event.Event{Source: "interfax", Type: interfax.TypeOutbound, Subject: "664598111", Status: event.StatusFailure,
		Description: "busy", Data: map[string]any{"DestinationFax": "0012125551234"}}
	raw, _ := json.Marshal(parsed)
	stored, err := event.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Send(t.Context(), &sinks.Message{Rule: "all", Title: "t", Text: "x", Event: stored, EventJSON: raw, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if body := <-got; !strings.Contains(body, "Destination") || !strings.Contains(body, "+1 212 555 1234") {
		t.Errorf("the default message lacks the fax's highlighted fields: %s", body)
	}
}

// Vendor knowledge lives in the receivers: the packages that word messages,
// lay out fields and count events name no vendor, event type or data key,
// so a new vendor type touches its receiver only.
func TestVendorKnowledgeStaysInReceivers(t *testing.T) {
	vendor := map[string]bool{}
	for _, k := range append(append([]*event.Kind{}, interfax.Kinds...), telesign.Kinds...) {
		vendor[k.Source] = true
		if k.Type != "" {
			vendor[k.Type] = true
		}
	}
	// Data keys the message and field code once switched on.
	for _, key := range []string{"DestinationFax", "PagesSent", "TrialsPerformed", "CallerID", "RemoteCSID", "user_response", "phone_number", "mo_message", "errors", "verify"} {
		vendor[key] = true
	}
	for _, dir := range []string{"../event", "../metrics", "../../sinks"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			if strings.Contains(filepath.ToSlash(path), "/sinkstest/") {
				return nil // test helper: renders recorded vendor events
			}
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if _, ok := n.(*ast.ImportSpec); ok {
					return false
				}
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && vendor[s] {
						t.Errorf("%s: vendor knowledge %q outside its receiver", fset.Position(lit.Pos()), s)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
