package interfax

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchboard/switchboard/receivers"
)

// maxFields bounds the fields (or multipart parts) of one callback; InterFAX
// sends about forty.
const maxFields = 1000

// kind is the wire form of a request, decided by its headers alone so that
// Parse and Reply (which has no body) always agree.
type kind int

const (
	kindForm kind = iota
	kindMultipart
	kindSOAP11
	kindSOAP12
)

func (k kind) soap() bool { return k == kindSOAP11 || k == kindSOAP12 }

// kindOf classifies r by Content-Type: form and multipart bodies, SOAP 1.1
// (text/xml, also application/xml) and SOAP 1.2 (application/soap+xml, which
// the SOAP 1.2 HTTP binding requires). Without a Content-Type a SOAPAction
// header means SOAP 1.1, anything else is read as a form.
func kindOf(r *http.Request) (kind, map[string]string, error) {
	ct := r.Header.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		if _, ok := r.Header["Soapaction"]; ok {
			return kindSOAP11, nil, nil
		}
		return kindForm, nil, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return kindForm, nil, receivers.Errorf(http.StatusUnsupportedMediaType, "malformed Content-Type %q", clip(ct))
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		return kindForm, params, nil
	case "multipart/form-data":
		return kindMultipart, params, nil
	case "text/xml", "application/xml":
		return kindSOAP11, params, nil
	case "application/soap+xml":
		return kindSOAP12, params, nil
	}
	return kindForm, nil, receivers.Errorf(http.StatusUnsupportedMediaType,
		"unsupported Content-Type %q (want application/x-www-form-urlencoded, multipart/form-data, text/xml or application/soap+xml)", clip(mt))
}

// parseURLEncoded decodes an application/x-www-form-urlencoded body, keeping
// the fields in order (url.ParseQuery would lose the order between names,
// and with it a deterministic choice between "Status" and "status"). The
// percent-decoded bytes are in the charset the Content-Type declared
// (UTF-8 if none).
func parseURLEncoded(body []byte, charset string) ([]pair, error) {
	dec, err := charsetDecoder(charset)
	if err != nil {
		return nil, err
	}
	var fields []pair
	s := strings.TrimPrefix(strings.TrimRight(string(body), "\r\n"), "\ufeff")
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		if kv == "" {
			continue
		}
		if len(fields) == maxFields {
			return nil, receivers.Errorf(http.StatusBadRequest, "more than %d form fields", maxFields)
		}
		k, v, _ := strings.Cut(kv, "=")
		name, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err := errors.Join(err1, err2); err != nil {
			return nil, &receivers.Error{Status: http.StatusBadRequest, Msg: "malformed form body: bad %-escape in field " + strconv.Quote(clip(k)), Err: err}
		}
		if name, err = decode(dec, charset, name); err != nil {
			return nil, err
		}
		if value, err = decode(dec, charset, value); err != nil {
			return nil, err
		}
		// Tolerate a body wrapped over lines, as in printed samples.
		fields = append(fields, pair{strings.TrimSpace(name), value})
	}
	return fields, nil
}

// parseMultipart decodes a multipart/form-data body in memory. Unlike
// http.Request.ParseMultipartForm it never writes to disk; file parts are
// skipped (InterFAX sends none). A part's value is in the charset of its own
// Content-Type, else of the request's Content-Type, else UTF-8.
func parseMultipart(body []byte, params map[string]string) ([]pair, error) {
	boundary := params["boundary"]
	if boundary == "" {
		return nil, receivers.Errorf(http.StatusBadRequest, "multipart/form-data without a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var fields []pair
	for parts := 0; ; parts++ {
		if parts == maxFields {
			return nil, receivers.Errorf(http.StatusBadRequest, "more than %d multipart parts", maxFields)
		}
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &receivers.Error{Status: http.StatusBadRequest, Msg: "malformed multipart/form-data body: " + clipTo(err.Error(), 120), Err: err}
		}
		name := p.FormName()
		if name == "" || p.FileName() != "" {
			continue
		}
		v, err := io.ReadAll(p) // bounded by the body, which the server limits
		if err != nil {
			return nil, &receivers.Error{Status: http.StatusBadRequest, Msg: "malformed multipart/form-data body: " + clipTo(err.Error(), 120), Err: err}
		}
		cs := partCharset(p.Header.Get("Content-Type"), params["charset"])
		dec, err := charsetDecoder(cs)
		if err != nil {
			return nil, err
		}
		value, err := decode(dec, cs, string(v))
		if err != nil {
			return nil, err
		}
		fields = append(fields, pair{strings.TrimSpace(name), value})
	}
	return fields, nil
}
