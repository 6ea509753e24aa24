package interfax

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard/switchboard/receivers"
)

// ServeGet serves the WSDL on GET ?wsdl (any casing, as .asmx clients ask
// for ?WSDL). The WSDL is public, so no token is needed, but allow_ips
// applies. Any other GET is refused with 405.
func (rc *Receiver) ServeGet(w http.ResponseWriter, r *http.Request) {
	if err := rc.filter.Check(r); err != nil {
		receivers.WritePlainError(w, err)
		return
	}
	if !wantsWSDL(r.URL.RawQuery) {
		w.Header().Set("Allow", "POST")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte("InterFAX callbacks are POSTed here; GET ?wsdl serves the WSDL\n"))
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(wsdl(rc.callbackURL(r)))
}

func wantsWSDL(rawQuery string) bool {
	for _, kv := range strings.Split(rawQuery, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if strings.EqualFold(k, "wsdl") {
			return true
		}
	}
	return false
}

// callbackURL is this receiver's URL as InterFAX sees it, without the token:
// public_url when configured, else the scheme and host of the request
// (X-Forwarded-Proto and X-Forwarded-Host only from a trusted proxy) and its
// path.
func (rc *Receiver) callbackURL(r *http.Request) string {
	if rc.publicURL != "" {
		return rc.publicURL
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if rc.filter.FromTrustedProxy(r) {
		if p := strings.ToLower(firstHop(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstHop(r.Header.Get("X-Forwarded-Host")); validHost(h) {
			host = h
		}
	}
	if !validHost(host) {
		host = "localhost"
	}
	path := r.URL.EscapedPath()
	if path == "" || path == "/" {
		path = "/hooks/" + url.PathEscape(rc.name)
	}
	return (&url.URL{Scheme: scheme, Host: host}).String() + path
}

func firstHop(h string) string {
	h, _, _ = strings.Cut(h, ",")
	return strings.TrimSpace(h)
}

// validHost accepts a host[:port] made of the characters hostnames and IP
// literals use.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]_", c)) {
			return false
		}
	}
	return true
}

// wsdl returns a WSDL 1.1 document, in the shape an ASP.NET .asmx service
// in the http://CallBack.Interfax.net/ namespace generates: both operations
// (Outbound, Inbound) with every field, SOAP 1.1 and 1.2 bindings, and
// address as the location of both ports.
func wsdl(address string) []byte {
	var addr bytes.Buffer
	_ = xml.EscapeText(&addr, []byte(address))
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions targetNamespace="` + nsCallBack + `" xmlns:tns="` + nsCallBack + `"` +
		` xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"` +
		` xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">
  <wsdl:documentation>InterFAX callbacks (outbound fax status, inbound fax) received by Switchboard.</wsdl:documentation>
  <wsdl:types>
    <s:schema elementFormDefault="qualified" targetNamespace="` + nsCallBack + `">
`)
	for _, op := range []struct {
		name   string
		fields []field
	}{{"Outbound", outboundFields}, {"Inbound", inboundFields}} {
		b.WriteString(`      <s:element name="` + op.name + `"><s:complexType><s:sequence>` + "\n")
		for _, f := range op.fields {
			// As .asmx does: strings may be absent, value types are always sent.
			minOccurs := "1"
			if f.xsd == "s:string" {
				minOccurs = "0"
			}
			b.WriteString(`        <s:element minOccurs="` + minOccurs + `" maxOccurs="1" name="` + f.name + `" type="` + f.xsd + `"/>` + "\n")
		}
		b.WriteString(`      </s:sequence></s:complexType></s:element>
      <s:element name="` + op.name + `Response"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="` + op.name + `Result" type="s:string"/>
      </s:sequence></s:complexType></s:element>
`)
	}
	b.WriteString(`    </s:schema>
  </wsdl:types>
`)
	ops := []string{"Outbound", "Inbound"}
	for _, op := range ops {
		b.WriteString(`  <wsdl:message name="` + op + `SoapIn"><wsdl:part name="parameters" element="tns:` + op + `"/></wsdl:message>
  <wsdl:message name="` + op + `SoapOut"><wsdl:part name="parameters" element="tns:` + op + `Response"/></wsdl:message>
`)
	}
	b.WriteString(`  <wsdl:portType name="CallBackSoap">` + "\n")
	for _, op := range ops {
		b.WriteString(`    <wsdl:operation name="` + op + `"><wsdl:input message="tns:` + op + `SoapIn"/><wsdl:output message="tns:` + op + `SoapOut"/></wsdl:operation>` + "\n")
	}
	b.WriteString(`  </wsdl:portType>` + "\n")
	for _, bind := range []struct{ name, prefix string }{{"CallBackSoap", "soap"}, {"CallBackSoap12", "soap12"}} {
		p := bind.prefix
		b.WriteString(`  <wsdl:binding name="` + bind.name + `" type="tns:CallBackSoap">
    <` + p + `:binding transport="http://schemas.xmlsoap.org/soap/http"/>
`)
		for _, op := range ops {
			b.WriteString(`    <wsdl:operation name="` + op + `"><` + p + `:operation soapAction="` + nsCallBack + op + `" style="document"/>` +
				`<wsdl:input><` + p + `:body use="literal"/></wsdl:input><wsdl:output><` + p + `:body use="literal"/></wsdl:output></wsdl:operation>` + "\n")
		}
		b.WriteString(`  </wsdl:binding>` + "\n")
	}
	b.WriteString(`  <wsdl:service name="CallBack">
    <wsdl:port name="CallBackSoap" binding="tns:CallBackSoap"><soap:address location="` + addr.String() + `"/></wsdl:port>
    <wsdl:port name="CallBackSoap12" binding="tns:CallBackSoap12"><soap12:address location="` + addr.String() + `"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`)
	return []byte(b.String())
}
