package telesign

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// BenchmarkVerify measures signature verification of the TS-6 body (one
// header tried, as when Authorization is valid).
func BenchmarkVerify(b *testing.B) {
	rc := newTS6(b)
	r := httptest.NewRequest(http.MethodPost, "/hooks/telesign", nil)
	r.Header.Set("Authorization", "TSA "+ts6Customer+":"+ts6Sig)
	body := []byte(ts6Body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := rc.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse measures Parse on the sample payloads and on an array of
// 100 status callbacks.
func BenchmarkParse(b *testing.B) {
	array := "[" + strings.TrimSuffix(strings.Repeat(ts6Body+",", 100), ",") + "]"
	cases := []struct{ name, body string }{
		{"TS-1", ts6Body},
		{"TS-3", readTestdata(b, "ts3_sms_verify")},
		{"TS-4a", readTestdata(b, "ts4a_voice_call_completed")},
		{"array100", array},
	}
	rc := newTS6(b)
	r := httptest.NewRequest(http.MethodPost, "/hooks/telesign", nil)
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			body := []byte(c.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rc.Parse(r, body, goldenNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func readTestdata(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name + ".json")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// BenchmarkVerifyFlood measures the refusal of a 1 MiB body carrying 1,000
// bogus TSA credentials: one MAC over the body, whatever the header count.
func BenchmarkVerifyFlood(b *testing.B) {
	rc := newTS6(b)
	r := floodRequest(500, "")
	body := []byte(strings.Repeat("x", 1<<20))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := rc.Verify(r, body); err == nil {
			b.Fatal("accepted")
		}
	}
}
