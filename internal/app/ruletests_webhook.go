package app

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// RequestExpect is what a rule test requires of a webhook request; each
// field is optional. Values that came from a ${VAR} are compared as the dry
// run shows them: ${VAR}.
type RequestExpect struct {
	// Method, when set, must be the request's method.
	Method string `yaml:"method"`
	// URL, when set, must be the request's URL exactly.
	URL string `yaml:"url"`
	// Headers must each be on the request with that value.
	Headers map[string]string `yaml:"headers"`
	// Body must be contained in the request's JSON body: each key of a
	// map with its value, compared the same way; lists element by element,
	// of the same length; other values equal.
	Body any `yaml:"body"`
}

// checkRequests compares the webhook requests of a dry run with the
// expectations. A request that cannot be built is a problem even unasked:
// its delivery would be dead.
func checkRequests(exp map[string]RequestExpect, dr *DryRunResult) []string {
	var problems []string
	type req struct {
		name string // "rule → sink"
		rule string
		sink string
		r    *DryRunWebhook
	}
	var reqs []req
	for _, ev := range dr.Events {
		for _, m := range ev.Messages {
			if m.Request == nil {
				continue
			}
			r := req{m.Rule + " → " + m.Sink, m.Rule, m.Sink, m.Request}
			reqs = append(reqs, r)
			if r.r.Error != "" {
				problems = append(problems, fmt.Sprintf("request of %s cannot be made (the delivery would be dead): %s", r.name, r.r.Error))
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(exp)) {
		want := exp[key]
		n := 0
		for _, r := range reqs {
			if key != r.rule && key != r.rule+"/"+r.sink || r.r.Error != "" {
				continue
			}
			n++
			problems = append(problems, compareRequest(r.name, want, r.r)...)
		}
		if n == 0 && !slices.ContainsFunc(reqs, func(r req) bool { return key == r.rule || key == r.rule+"/"+r.sink }) {
			problems = append(problems, fmt.Sprintf("request of %s: none, the rule did not match or sends to no webhook sink", key))
		}
	}
	return problems
}

func compareRequest(name string, want RequestExpect, got *DryRunWebhook) []string {
	var diffs []string
	if want.Method != "" && want.Method != got.Method {
		diffs = append(diffs, fmt.Sprintf("method: want %s, got %s", want.Method, got.Method))
	}
	if want.URL != "" && want.URL != got.URL {
		diffs = append(diffs, fmt.Sprintf("url: want %s\n       got %s", want.URL, got.URL))
	}
	for _, k := range slices.Sorted(maps.Keys(want.Headers)) {
		g, ok := got.Headers[http.CanonicalHeaderKey(k)]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("header %s: missing", k))
		case g != want.Headers[k]:
			diffs = append(diffs, fmt.Sprintf("header %s: want %q, got %q", k, want.Headers[k], g))
		}
	}
	if want.Body != nil {
		var body any
		if err := json.Unmarshal(got.Body, &body); err != nil {
			diffs = append(diffs, fmt.Sprintf("body is not JSON: %v", err))
		} else {
			subset("body", jsonValue(want.Body), body, &diffs)
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("request of %s:\n  %s\n  sent: %s %s %s", name,
		strings.ReplaceAll(strings.Join(diffs, "\n"), "\n", "\n  "), got.Method, got.URL, got.Body)}
}

// jsonValue is v as it reads back from JSON (numbers float64, times RFC
// 3339 strings), to compare a YAML value with a JSON body.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

// subset describes, at path, how got fails to contain want.
func subset(path string, want, got any, diffs *[]string) {
	show := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: want an object, got %s", path, show(got)))
			return
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			gv, ok := g[k]
			if !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: missing (want %s)", path, k, show(w[k])))
				continue
			}
			subset(path+"."+k, w[k], gv, diffs)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s: want a list of %d, got %s", path, len(w), show(got)))
			return
		}
		for i := range w {
			subset(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], diffs)
		}
	default:
		if !reflect.DeepEqual(want, got) {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got)))
		}
	}
}
