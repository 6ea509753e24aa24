package telesign

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/receivers"
)

// Made-up credentials, the compact body of an "SMS delivered" callback and
// its signature, base64(HMAC-SHA256(base64-decoded key, body)), computed
// apart from this code (a Go program, cross-checked in Python).
const (
	ts6Customer = "AAAAAAAA-BBBB-CCCC-DDDD-000000000001"
	ts6Key      = "bWFkZS11cC10ZWxlc2lnbi1rZXktZm9yLWRvY3Mtb25seS0wMTIzNDU2Nzg5"
	ts6Body     = `{"status":{"updated_on":"2024-05-02T10:15:30.123456Z","code":200,"description":"Delivered to handset"},"submit_timestamp":"2024-05-02T10:15:27.000000Z","errors":[],"reference_id":"0123456789ABCDEF0123456789ABCDEF","sub_resource":"sms"}`
	ts6Sig      = "M2S2BL+e3/MQR2VXdF4g9NTy68CKNx6Fg+WtNbtTNn8="
)

func TestSignVectors(t *testing.T) {
	tests := []struct {
		name, key, body, want string
	}{
		// python_telesign tests/test_util.py: the key has '-' characters
		// that a strict base64 decoder rejects.
		{"python sdk", "EXAMPLE----TE8sTgg45yusumoN6BYsBVkh+yRJ5czgsnCehZaOYldPJdmFh6NeX8kunZ2zU1YWaUw/0wV6xfw==",
			"{'test': 123}", "B97g3N9lPdVaptvifxRau7bzVAC5hhRBZ6HKXABN744="},
		// gitlab transaction_callback_spec.rb: Base64('secret_api_key').
		{"gitlab spec", "c2VjcmV0X2FwaV9rZXk=", `{:ref_id=>"ref_id"}`, "PJRdTwXX+/+nksJwXkEDLslxkX2rwUyyCHnlGslCsto="},
		{"TS-6", ts6Key, ts6Body, ts6Sig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sign(tc.key, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Sign = %s, want %s", got, tc.want)
			}
		})
	}
}

func newTS6(t testing.TB) *Receiver {
	t.Helper()
	rc, err := New("telesign", Config{CustomerID: ts6Customer, APIKey: config.Secret(ts6Key)})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func TestVerify(t *testing.T) {
	good := "TSA " + ts6Customer + ":" + ts6Sig
	otherSig, _ := Sign(ts6Key, []byte(ts6Body+" "))
	tests := []struct {
		name    string
		headers map[string]string
		body    string
		want    error // nil, or the expected reason
	}{
		{"TS-6 Authorization", map[string]string{"Authorization": good}, ts6Body, nil},
		{"X-TS-Authorization fallback", map[string]string{"X-TS-Authorization": good}, ts6Body, nil},
		{"proxy replaced Authorization", map[string]string{"Authorization": "Basic dXNlcjpwYXNz", "X-TS-Authorization": good}, ts6Body, nil},
		{"both sent, as Telesign does", map[string]string{"Authorization": good, "X-TS-Authorization": good}, ts6Body, nil},
		{"lowercase scheme", map[string]string{"Authorization": "tsa " + ts6Customer + ":" + ts6Sig}, ts6Body, nil},
		{"lowercase customer id", map[string]string{"Authorization": "TSA " + strings.ToLower(ts6Customer) + ":" + ts6Sig}, ts6Body, nil},
		{"unpadded signature", map[string]string{"Authorization": "TSA " + ts6Customer + ":" + strings.TrimRight(ts6Sig, "=")}, ts6Body, nil},
		{"extra spaces", map[string]string{"Authorization": "  TSA  " + ts6Customer + ":" + ts6Sig + " "}, ts6Body, nil},
		{"missing", nil, ts6Body, errMissingAuth},
		{"empty header", map[string]string{"Authorization": ""}, ts6Body, errScheme},
		{"wrong scheme", map[string]string{"Authorization": "Bearer " + ts6Sig}, ts6Body, errScheme},
		{"scheme only", map[string]string{"Authorization": "TSA"}, ts6Body, errMalformedAuth},
		{"no colon", map[string]string{"Authorization": "TSA " + ts6Sig}, ts6Body, errMalformedAuth},
		{"signature not base64", map[string]string{"Authorization": "TSA " + ts6Customer + ":not*base64"}, ts6Body, errMalformedAuth},
		{"signature too short", map[string]string{"Authorization": "TSA " + ts6Customer + ":AAAA"}, ts6Body, errMalformedAuth},
		{"wrong customer", map[string]string{"Authorization": "TSA AAAAAAAA-BBBB-CCCC-DDDD-000000000002:" + ts6Sig}, ts6Body, errCustomer},
		{"body changed by one byte", map[string]string{"Authorization": good}, strings.Replace(ts6Body, "200", "201", 1), errBadSignature},
		{"body with trailing space", map[string]string{"Authorization": good}, ts6Body + " ", errBadSignature},
		{"signature of another body", map[string]string{"Authorization": "TSA " + ts6Customer + ":" + otherSig}, ts6Body, errBadSignature},
		{"bad Authorization, good fallback", map[string]string{"Authorization": "TSA " + ts6Customer + ":" + otherSig, "X-TS-Authorization": good}, ts6Body, nil},
		{"wrong scheme, bad fallback", map[string]string{"Authorization": "Basic x", "X-TS-Authorization": "TSA " + ts6Customer + ":" + otherSig}, ts6Body, errBadSignature},
	}
	rc := newTS6(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/hooks/telesign", strings.NewReader(tc.body))
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			err := rc.Verify(r, []byte(tc.body))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err == nil {
				return
			}
			if code, msg := receivers.Status(err); code != http.StatusUnauthorized || strings.Contains(msg, ts6Sig) {
				t.Errorf("Status = %d %q, want 401 without the signature", code, msg)
			}
		})
	}
}

func TestVerifyAnyCustomerWhenUnset(t *testing.T) {
	rc, err := New("telesign", Config{APIKey: config.Secret(ts6Key)})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "TSA someone-else:"+ts6Sig)
	if err := rc.Verify(r, []byte(ts6Body)); err != nil {
		t.Errorf("Verify = %v, want nil", err)
	}
	r.Header.Set("Authorization", "TSA someone-else:"+ts6Sig)
	if err := rc.Verify(r, []byte(ts6Body+"x")); !errors.Is(err, errBadSignature) {
		t.Errorf("Verify(changed body) = %v, want %v", err, errBadSignature)
	}
}

func TestVerifyUnauthenticated(t *testing.T) {
	rc, err := New("telesign", Config{Unauthenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Verify(httptest.NewRequest(http.MethodPost, "/", nil), []byte("{}")); err != nil {
		t.Errorf("Verify = %v, want nil", err)
	}
	// A key configured next to unauthenticated: true is still checked.
	rc, err = New("telesign", Config{Unauthenticated: true, APIKey: config.Secret(ts6Key)})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Verify(httptest.NewRequest(http.MethodPost, "/", nil), []byte("{}")); !errors.Is(err, errMissingAuth) {
		t.Errorf("Verify = %v, want %v", err, errMissingAuth)
	}
}

// countMACs counts the body MACs Verify computes while f runs.
func countMACs(t testing.TB, f func()) int {
	t.Helper()
	n := 0
	onMAC = func() { n++ }
	defer func() { onMAC = nil }()
	f()
	return n
}

// floodRequest is a callback carrying n well-formed TSA credentials with
// wrong signatures in each of the two headers, then the good one.
func floodRequest(n int, good string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks/telesign", nil)
	bogus := "TSA " + ts6Customer + ":" + strings.Repeat("A", 43) + "="
	for range n {
		r.Header.Add("Authorization", bogus)
		r.Header.Add("X-TS-Authorization", bogus)
	}
	if good != "" {
		r.Header.Add("X-TS-Authorization", good)
	}
	return r
}

// A flood of credentials costs one MAC over the body, not one per header
// value: 1,000 bogus headers on a 1 MiB body would otherwise be 1 GB of
// SHA-256 per request.
func TestVerifyFloodComputesOneMAC(t *testing.T) {
	rc := newTS6(t)
	body := []byte(strings.Repeat("x", 1<<20))
	tests := []struct {
		name string
		r    *http.Request
		max  int
	}{
		{"1000 well-formed bogus credentials", floodRequest(500, ""), 1},
		{"1000 malformed values", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			for range 1000 {
				r.Header.Add("Authorization", "TSA "+ts6Customer+":not*base64")
			}
			return r
		}(), 0},
		{"1000 wrong customers", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			for range 1000 {
				r.Header.Add("Authorization", "TSA someone-else:"+ts6Sig)
			}
			return r
		}(), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := countMACs(t, func() { err = rc.Verify(tc.r, body) })
			if err == nil {
				t.Fatal("Verify accepted a flood of bogus credentials")
			}
			if n > tc.max {
				t.Errorf("Verify computed %d MACs over the body, want at most %d", n, tc.max)
			}
		})
	}
}

// Only the first maxCandidates header values are looked at: a good
// credential after a flood is not found, and the good one sent in
// Authorization as Telesign does is checked with a single MAC.
func TestVerifyCapsCandidates(t *testing.T) {
	rc := newTS6(t)
	good := "TSA " + ts6Customer + ":" + ts6Sig
	if err := rc.Verify(floodRequest(maxCandidates, good), []byte(ts6Body)); !errors.Is(err, errBadSignature) {
		t.Errorf("good credential after %d bogus ones: Verify = %v, want %v", 2*maxCandidates, err, errBadSignature)
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", good)
	r.Header.Set("X-TS-Authorization", good)
	var err error
	if n := countMACs(t, func() { err = rc.Verify(r, []byte(ts6Body)) }); err != nil || n != 1 {
		t.Errorf("Verify = %v with %d MACs, want nil with 1", err, n)
	}
}
