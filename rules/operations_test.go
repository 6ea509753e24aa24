package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestAdminToken(t *testing.T) {
	const token = "0123456789abcdef-admin"
	for _, tc := range []struct {
		name, src string
		err       string // "" for valid
	}{
		{"loopback by default", "listen: \":8080\"", ""},
		{"loopback without token", `admin: "127.0.0.1:9191"`, ""},
		{"all interfaces without token", "\n\nadmin: \":9090\"", `rules.yaml:3: admin ":9090" is not a loopback address: set admin_token`},
		{"public with token", "admin: \"0.0.0.0:9090\"\nadmin_token: ${ADMIN_TOKEN}", ""},
		{"short token", "admin_token: short", "rules.yaml:1: admin_token must be at least 16 characters"},
		{"unset variable", "admin: \":9090\"\nadmin_token: ${NOPE}", "environment variable NOPE is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("rules.yaml", strings.NewReader(tc.src), env(map[string]string{"ADMIN_TOKEN": token}))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(tc.src, "ADMIN_TOKEN") && f.AdminToken.Value() != token {
					t.Errorf("admin token not loaded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
	f, _ := Parse("rules.yaml", strings.NewReader("admin_token: "+token), env(nil))
	for _, s := range []string{fmt.Sprint(f.AdminToken), fmt.Sprintf("%+v", *f), fmt.Sprintf("%#v", f.AdminToken)} {
		if strings.Contains(s, token) {
			t.Errorf("printed config shows the admin token: %s", s)
		}
	}
}

func TestRetention(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		src             string
		delivered, dead time.Duration
		err             string
	}{
		{"listen: \":8080\"", 7 * day, 30 * day, ""},
		{"retention: {delivered: 3d}", 3 * day, 30 * day, ""},
		{"retention: {delivered: 12h, dead: 90d}", 12 * time.Hour, 90 * day, ""},
		{"retention: {dead: 0}", 7 * day, 0, ""},
		{"retention: {delivered: 0, dead: 0s}", 0, 0, ""},
		{"retention:", 7 * day, 30 * day, ""},
		{"retention: {dead: -1h}", 0, 0, `invalid duration "-1h": negative`},
		{"retention: {dead: forever}", 0, 0, `invalid duration "forever"`},
		{"retention: {delivred: 3d}", 0, 0, `unknown key "delivred"`},
	} {
		t.Run(tc.src, func(t *testing.T) {
			f, err := Parse("rules.yaml", strings.NewReader(tc.src), env(nil))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Duration(f.Retention.Delivered) != tc.delivered || time.Duration(f.Retention.Dead) != tc.dead {
				t.Errorf("retention = %v/%v", time.Duration(f.Retention.Delivered), time.Duration(f.Retention.Dead))
			}
		})
	}
}

// Errors that quote a value show the variable it came from, never the
// value: a secret in the wrong place or the wrong variable stays secret.
func TestErrorsHideExpandedValues(t *testing.T) {
	const secret = "hunter2-very-SECRET"
	src := `body_limit: ${PASSWORD}
retention: {dead: "${PASSWORD}"}
admin: "${PASSWORD}"
`
	_, err := Parse("rules.yaml", strings.NewReader(src), env(map[string]string{"PASSWORD": secret}))
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:7]) {
		t.Errorf("errors show the secret:\n%v", err)
	}
	if strings.Count(err.Error(), "${PASSWORD}") < 3 {
		t.Errorf("errors do not name the variable:\n%v", err)
	}
}
