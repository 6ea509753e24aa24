package interfax

import (
	"os"
	"strings"
	"testing"
)

// BenchmarkParse measures Parse on the samples and on a body at the
// server's default 1 MiB limit made of the most elements the parser allows.
func BenchmarkParse(b *testing.B) {
	rc, err := New("interfax", Config{Unauthenticated: true})
	if err != nil {
		b.Fatal(err)
	}
	worst := `<soap:Envelope xmlns:soap="` + nsSOAP11 + `"><soap:Body><Outbound>` +
		strings.Repeat("<Contact>"+strings.Repeat("x", 480)+"</Contact>", maxElements-10) +
		`<TransactionID>1</TransactionID></Outbound></soap:Body></soap:Envelope>`
	cases := []struct{ name, file, ct, body string }{
		{name: "form", file: "if-1-post-success"},
		{name: "soap", file: "if-4-soap11-success"},
		{name: "multipart", file: "multipart-outbound-busy"},
		{name: "soap-1MiB", ct: "text/xml", body: worst},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			body := []byte(c.body)
			if c.file != "" {
				if body, err = os.ReadFile("testdata/" + c.file + ".body"); err != nil {
					b.Fatal(err)
				}
			}
			req := goldenRequest(b, c.file, body)
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rc.Parse(req, body, fixedTime); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
