package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds the config loader arbitrary files: it must never panic,
// and a configuration it accepts must route, explain and render (throttle
// keys and templates included) without panicking on an event.
func FuzzParse(f *testing.F) {
	f.Add(validConfig)
	f.Add(routingSinks + "rules:\n  - {name: r, when: 'status == \"failure\"', to: [a], throttle: {key: 'data.DestinationFax', window: 10m}, text: '{{ .suppressed }}'}\n")
	f.Add(routingSinks + "rules:\n  - {name: r, when: 'any(data.errors ?? [], .code == 1) || code in [1, 2]', to: [a, b], stop: true}\n")
	f.Add(expectConfig)
	if b, err := os.ReadFile(filepath.Join("..", "rules.example.yaml")); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := Parse("fuzz.yaml", strings.NewReader(src), env(map[string]string{"X": "1"}))
		if err != nil {
			return
		}
		ev := failedFax()
		res := cfg.Router.Route(ev)
		for _, m := range res.Matches {
			if m.Render != nil {
				m.Render(3)
			}
		}
		cfg.Router.Explain(ev)
	})
}
