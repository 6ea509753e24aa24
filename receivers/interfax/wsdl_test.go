package interfax

import (
	"crypto/tls"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// wsdlDoc is the part of a WSDL 1.1 document the tests look at.
type wsdlDoc struct {
	XMLName         xml.Name `xml:"http://schemas.xmlsoap.org/wsdl/ definitions"`
	TargetNamespace string   `xml:"targetNamespace,attr"`
	Elements        []struct {
		Name   string `xml:"name,attr"`
		Fields []struct {
			Name string `xml:"name,attr"`
			Type string `xml:"type,attr"`
		} `xml:"complexType>sequence>element"`
	} `xml:"types>schema>element"`
	Messages []named `xml:"message"`
	PortType struct {
		Operations []named `xml:"operation"`
	} `xml:"portType"`
	Bindings []struct {
		Name       string  `xml:"name,attr"`
		Operations []named `xml:"operation"`
	} `xml:"binding"`
	Ports []struct {
		Name      string `xml:"name,attr"`
		Address11 struct {
			Location string `xml:"location,attr"`
		} `xml:"http://schemas.xmlsoap.org/wsdl/soap/ address"`
		Address12 struct {
			Location string `xml:"location,attr"`
		} `xml:"http://schemas.xmlsoap.org/wsdl/soap12/ address"`
	} `xml:"service>port"`
}

func TestWSDL(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		target string
		tls    bool
		remote string
		header map[string]string
		want   string
	}{
		{name: "request host", target: "http://switchboard.local:8080/hooks/fax?wsdl", want: "http://switchboard.local:8080/hooks/fax"},
		{name: "uppercase WSDL", target: "http://switchboard.local/hooks/fax?WSDL", want: "http://switchboard.local/hooks/fax"},
		{name: "tls", target: "https://fax.example.com/hooks/fax?wsdl", tls: true, want: "https://fax.example.com/hooks/fax"},
		{name: "token is not echoed", target: "http://h/hooks/fax?wsdl&token=" + testToken, want: "http://h/hooks/fax"},
		{name: "public_url base", cfg: Config{PublicURL: "https://fax.example.com"}, target: "http://internal:8080/hooks/fax?wsdl", want: "https://fax.example.com/hooks/fax"},
		{name: "public_url full", cfg: Config{PublicURL: "https://example.com/cb/interfax"}, target: "http://internal:8080/hooks/fax?wsdl", want: "https://example.com/cb/interfax"},
		{name: "trusted proxy headers", cfg: Config{TrustedProxies: []string{"10.0.0.1"}}, remote: "10.0.0.1:1234", target: "http://internal:8080/hooks/fax?wsdl",
			header: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "fax.example.com"}, want: "https://fax.example.com/hooks/fax"},
		{name: "untrusted proxy headers ignored", remote: "192.0.2.1:1234", target: "http://internal:8080/hooks/fax?wsdl",
			header: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, want: "http://internal:8080/hooks/fax"},
		{name: "bad forwarded host ignored", cfg: Config{TrustedProxies: []string{"10.0.0.1"}}, remote: "10.0.0.1:1234", target: "http://internal/hooks/fax?wsdl",
			header: map[string]string{"X-Forwarded-Host": `a"><x y="`}, want: "http://internal/hooks/fax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Unauthenticated = true
			rc, err := New("fax", tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if !tc.tls {
				req.TLS = nil
			} else {
				req.TLS = &tls.ConnectionState{}
			}
			if tc.remote != "" {
				req.RemoteAddr = tc.remote
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			rc.ServeGet(rec, req)
			if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/xml") {
				t.Fatalf("GET = %d %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			checkWellFormed(t, rec.Body.Bytes())
			var doc wsdlDoc
			if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Ports) != 2 {
				t.Fatalf("%d ports, want SOAP 1.1 and 1.2", len(doc.Ports))
			}
			for _, p := range doc.Ports {
				if got := p.Address11.Location + p.Address12.Location; got != tc.want {
					t.Errorf("port %s address %q, want %q", p.Name, got, tc.want)
				}
			}
			if strings.Contains(rec.Body.String(), testToken) {
				t.Error("WSDL contains the token")
			}
		})
	}
}

// TestWSDLDescribesEveryField checks that the WSDL describes both
// operations, in both bindings, with every field the parser knows and the
// XML Schema type it is read as.
func TestWSDLDescribesEveryField(t *testing.T) {
	var doc wsdlDoc
	if err := xml.Unmarshal(wsdl("https://h/hooks/fax"), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.TargetNamespace != nsCallBack {
		t.Errorf("targetNamespace %q", doc.TargetNamespace)
	}
	elements := map[string]map[string]string{}
	for _, e := range doc.Elements {
		elements[e.Name] = map[string]string{}
		for _, f := range e.Fields {
			elements[e.Name][f.Name] = f.Type
		}
	}
	for op, fields := range map[string][]field{"Outbound": outboundFields, "Inbound": inboundFields} {
		if len(elements[op]) != len(fields) {
			t.Errorf("%s has %d fields, want %d", op, len(elements[op]), len(fields))
		}
		for _, f := range fields {
			if got := elements[op][f.name]; got != f.xsd {
				t.Errorf("%s/%s type %q, want %q", op, f.name, got, f.xsd)
			}
		}
		if elements[op+"Response"][op+"Result"] != "s:string" {
			t.Errorf("%sResponse/%sResult missing", op, op)
		}
		if !hasName(doc.PortType.Operations, op) {
			t.Errorf("portType lacks %s", op)
		}
		for _, b := range doc.Bindings {
			if !hasName(b.Operations, op) {
				t.Errorf("binding %s lacks %s", b.Name, op)
			}
		}
		for _, m := range []string{op + "SoapIn", op + "SoapOut"} {
			if !hasName(doc.Messages, m) {
				t.Errorf("message %s missing", m)
			}
		}
	}
	if len(doc.Bindings) != 2 {
		t.Errorf("%d bindings, want SOAP 1.1 and 1.2", len(doc.Bindings))
	}
}

type named struct {
	Name string `xml:"name,attr"`
}

func hasName(list []named, name string) bool {
	for _, x := range list {
		if x.Name == name {
			return true
		}
	}
	return false
}

func TestServeGetRefusals(t *testing.T) {
	rc, err := New("fax", Config{Token: testToken, AllowIPs: []string{"192.0.2.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/hooks/fax", nil)
	req.RemoteAddr = "192.0.2.1:1"
	rec := httptest.NewRecorder()
	rc.ServeGet(rec, req)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET without ?wsdl = %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	req = httptest.NewRequest(http.MethodGet, "/hooks/fax?wsdl", nil)
	req.RemoteAddr = "198.51.100.1:1"
	rec = httptest.NewRecorder()
	rc.ServeGet(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("GET ?wsdl from a disallowed address = %d, want 403", rec.Code)
	}
}
