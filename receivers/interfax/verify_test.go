package interfax

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/receivers"
)

const testToken = "s3cret-callback-token"

func TestVerify(t *testing.T) {
	tokenOnly := Config{Token: testToken}
	allow := Config{
		Token:          testToken,
		AllowIPs:       []string{"192.0.2.0/24", "2001:db8::/32"},
		TrustedProxies: []string{"10.0.0.0/8"},
	}
	tests := []struct {
		name   string
		cfg    Config
		target string
		remote string
		header map[string]string
		user   *[2]string // basic auth
		want   int        // 0: admitted
	}{
		{name: "query token", cfg: tokenOnly, target: "/hooks/interfax?token=" + testToken},
		{name: "query token among others", cfg: tokenOnly, target: "/hooks/interfax?a=1&token=wrong&token=" + testToken},
		{name: "basic auth password", cfg: tokenOnly, target: "/hooks/interfax", user: &[2]string{"interfax", testToken}},
		{name: "basic auth any user", cfg: tokenOnly, target: "/hooks/interfax", user: &[2]string{"", testToken}},
		{name: "no token", cfg: tokenOnly, target: "/hooks/interfax", want: 401},
		{name: "wrong query token", cfg: tokenOnly, target: "/hooks/interfax?token=nope", want: 401},
		{name: "token prefix", cfg: tokenOnly, target: "/hooks/interfax?token=" + testToken[:5], want: 401},
		{name: "token with suffix", cfg: tokenOnly, target: "/hooks/interfax?token=" + testToken + "x", want: 401},
		{name: "empty query token", cfg: tokenOnly, target: "/hooks/interfax?token=", want: 401},
		{name: "wrong basic auth", cfg: tokenOnly, target: "/hooks/interfax", user: &[2]string{testToken, "nope"}, want: 401},
		{name: "token as header is not accepted", cfg: tokenOnly, target: "/hooks/interfax", header: map[string]string{"X-Token": testToken}, want: 401},
		{name: "unauthenticated", cfg: Config{Unauthenticated: true}, target: "/hooks/interfax"},
		{name: "unauthenticated with token still checks it", cfg: Config{Unauthenticated: true, Token: testToken}, target: "/hooks/interfax", want: 401},

		{name: "allowed address", cfg: allow, remote: "192.0.2.10:4431", target: "/hooks/interfax?token=" + testToken},
		{name: "allowed IPv6 address", cfg: allow, remote: "[2001:db8::7]:4431", target: "/hooks/interfax?token=" + testToken},
		{name: "IPv4-mapped peer", cfg: allow, remote: "[::ffff:192.0.2.10]:4431", target: "/hooks/interfax?token=" + testToken},
		{name: "disallowed address beats a good token", cfg: allow, remote: "198.51.100.7:4431", target: "/hooks/interfax?token=" + testToken, want: 403},
		{name: "disallowed address without token is 403", cfg: allow, remote: "198.51.100.7:4431", target: "/hooks/interfax", want: 403},
		{name: "allowed address still needs the token", cfg: allow, remote: "192.0.2.10:4431", target: "/hooks/interfax?token=nope", want: 401},
		{name: "X-Forwarded-For from untrusted peer is ignored", cfg: allow, remote: "198.51.100.7:4431",
			header: map[string]string{"X-Forwarded-For": "192.0.2.10"}, target: "/hooks/interfax?token=" + testToken, want: 403},
		{name: "X-Forwarded-For cannot smuggle a disallowed peer in", cfg: allow, remote: "192.0.2.10:4431",
			header: map[string]string{"X-Forwarded-For": "198.51.100.7"}, target: "/hooks/interfax?token=" + testToken},
		{name: "X-Forwarded-For from trusted proxy", cfg: allow, remote: "10.1.2.3:4431",
			header: map[string]string{"X-Forwarded-For": "192.0.2.10"}, target: "/hooks/interfax?token=" + testToken},
		{name: "trusted proxy chain", cfg: allow, remote: "10.1.2.3:4431",
			header: map[string]string{"X-Forwarded-For": "198.51.100.7, 192.0.2.10, 10.9.9.9"}, target: "/hooks/interfax?token=" + testToken},
		{name: "spoofed left-most entry is not believed", cfg: allow, remote: "10.1.2.3:4431",
			header: map[string]string{"X-Forwarded-For": "192.0.2.10, 198.51.100.7"}, target: "/hooks/interfax?token=" + testToken, want: 403},
		{name: "trusted proxy without X-Forwarded-For", cfg: allow, remote: "10.1.2.3:4431", target: "/hooks/interfax?token=" + testToken, want: 403},
		{name: "malformed X-Forwarded-For", cfg: allow, remote: "10.1.2.3:4431",
			header: map[string]string{"X-Forwarded-For": "not-an-ip"}, target: "/hooks/interfax?token=" + testToken, want: 403},
		{name: "X-Forwarded-For with port", cfg: allow, remote: "10.1.2.3:4431",
			header: map[string]string{"X-Forwarded-For": "192.0.2.10:55555"}, target: "/hooks/interfax?token=" + testToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := New("interfax", tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader("TransactionID=1&Status=0"))
			if tc.remote != "" {
				req.RemoteAddr = tc.remote
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if tc.user != nil {
				req.SetBasicAuth(tc.user[0], tc.user[1])
			}
			err = rc.Verify(req, nil)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("Verify: %v, want admitted", err)
				}
				return
			}
			var re *receivers.Error
			if !errors.As(err, &re) || re.Status != tc.want {
				t.Fatalf("Verify = %v, want status %d", err, tc.want)
			}
			// Neither the caller's message nor the logged error may help an
			// attacker or leak the secret.
			wantMsg := map[int]string{401: "unauthorized", 403: "forbidden"}[tc.want]
			if re.Msg != wantMsg {
				t.Errorf("message %q, want %q", re.Msg, wantMsg)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q contains the token", err)
			}
			rec := httptest.NewRecorder()
			rc.Reply(rec, req, nil, err)
			if rec.Code != tc.want || rec.Header().Get("WWW-Authenticate") != "" {
				t.Errorf("reply %d (WWW-Authenticate %q), want %d without a challenge", rec.Code, rec.Header().Get("WWW-Authenticate"), tc.want)
			}
		})
	}
}

func TestClientAddr(t *testing.T) {
	f, err := receivers.NewIPFilter(nil, []string{"10.0.0.0/8", "::ffff:172.16.0.0/108", "2001:db8:ffff::1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ remote, xff, want string }{
		{"192.0.2.1:1", "", "192.0.2.1"},
		{"192.0.2.1:1", "203.0.113.5", "192.0.2.1"},  // untrusted peer: header ignored
		{"10.0.0.1:1", "203.0.113.5", "203.0.113.5"}, // trusted peer
		{"10.0.0.1:1", "203.0.113.5, 10.0.0.2", "203.0.113.5"},
		{"10.0.0.1:1", "10.0.0.3, 10.0.0.2", "10.0.0.3"}, // all trusted: left-most
		{"172.16.0.9:1", "203.0.113.5", "203.0.113.5"},   // mapped prefix matches a v4 peer
		{"[2001:db8:ffff::1]:1", "[2001:db8::5]:80", "2001:db8::5"},
		{"10.0.0.1:1", "garbage", "invalid IP"},
		{"nonsense", "", "invalid IP"},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.RemoteAddr = tc.remote
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := f.ClientAddr(req).String(); got != tc.want {
			t.Errorf("ClientAddr(%s, XFF %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
	var nilFilter *receivers.IPFilter
	if err := nilFilter.Check(httptest.NewRequest(http.MethodPost, "/", nil)); err != nil {
		t.Errorf("nil filter refused: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error, none: valid
	}{
		{name: "token", cfg: Config{Token: testToken}},
		{name: "unauthenticated", cfg: Config{Unauthenticated: true}},
		{name: "full", cfg: Config{Token: testToken, PublicURL: "https://fax.example.com/hooks/fax", AllowIPs: []string{"192.0.2.1", "2001:db8::/32"}, TrustedProxies: []string{"10.0.0.0/8"}}},
		{name: "no token", cfg: Config{}, want: []string{"token is required", "unauthenticated: true"}},
		{name: "short token", cfg: Config{Token: "fifteen-chars!!"}, want: []string{"token must be at least 16 characters"}},
		{name: "bad CIDRs", cfg: Config{Token: testToken, AllowIPs: []string{"192.0.2.0/33", "ok?"}, TrustedProxies: []string{"10.0.0.0/8", "proxy"}},
			want: []string{`allow_ips[0]: "192.0.2.0/33"`, `allow_ips[1]: "ok?"`, `trusted_proxies[1]: "proxy"`}},
		{name: "relative public_url", cfg: Config{Token: testToken, PublicURL: "/hooks/x"}, want: []string{"public_url"}},
		{name: "public_url with token", cfg: Config{Token: testToken, PublicURL: "https://h/hooks/x?token=t"}, want: []string{"public_url: must not contain"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			_, newErr := New("interfax", tc.cfg)
			if len(tc.want) == 0 {
				if err != nil || newErr != nil {
					t.Fatalf("Validate = %v, New = %v; want valid", err, newErr)
				}
				return
			}
			if err == nil || newErr == nil {
				t.Fatalf("Validate = %v, New = %v; want errors", err, newErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestConfigHidesToken(t *testing.T) {
	cfg := Config{Token: testToken}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), mustJSON(t, cfg)} {
		if strings.Contains(s, testToken) {
			t.Errorf("printed config %q contains the token", s)
		}
	}
	rc, err := New("interfax", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%+v", rc); strings.Contains(s, testToken) {
		t.Errorf("printed receiver %q contains the token", s)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
