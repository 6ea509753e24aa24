package interfax

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf16"

	"github.com/switchboard/switchboard/receivers"
)

// XML namespaces.
const (
	nsSOAP11   = "http://schemas.xmlsoap.org/soap/envelope/"
	nsSOAP12   = "http://www.w3.org/2003/05/soap-envelope"
	nsCallBack = "http://CallBack.Interfax.net/"
	nsXSI      = "http://www.w3.org/2001/XMLSchema-instance"
)

// Bounds on a SOAP request, far above what InterFAX sends (an envelope four
// levels deep with about forty fields), low enough that no input is costly.
const (
	maxDepth    = 32
	maxElements = 2000
	maxTokens   = 20000
)

// frame is an open element inside the operation element.
type frame struct {
	name     string
	text     strings.Builder
	hasChild bool
	isNil    bool
}

// parseSOAP decodes a SOAP 1.1 or 1.2 envelope. It finds the first element
// in the Body whose local name is Outbound or Inbound, whatever its prefix or
// namespace (http:// and https://CallBack.Interfax.net/ both occur), and
// collects its descendant leaf elements by local name, in any order and
// through any wrappers. It does not dispatch on SOAPAction.
func parseSOAP(body []byte) (callback, error) {
	var cb callback
	d := xml.NewDecoder(bytes.NewReader(xmlUTF8(body)))
	d.Strict = true
	d.CharsetReader = charsetReader

	var (
		depth, elements, tokens int
		rootDone, inBody        bool
		bodyDepth, opDepth      int
		stack                   []*frame // open elements below the operation
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return cb, soapError("malformed XML: "+clipTo(err.Error(), 160), err)
		}
		if tokens++; tokens > maxTokens {
			return cb, soapError(fmt.Sprintf("more than %d XML tokens", maxTokens), nil)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return cb, soapError("XML DOCTYPE and entity declarations are not allowed", nil)
		case xml.StartElement:
			if rootDone {
				return cb, soapError("content after the SOAP Envelope", nil)
			}
			if elements++; elements > maxElements {
				return cb, soapError(fmt.Sprintf("more than %d XML elements", maxElements), nil)
			}
			if depth++; depth > maxDepth {
				return cb, soapError(fmt.Sprintf("XML nested deeper than %d elements", maxDepth), nil)
			}
			switch {
			case depth == 1:
				if t.Name.Local != "Envelope" {
					return cb, soapError(fmt.Sprintf("root element is <%s>, want a SOAP Envelope", clip(t.Name.Local)), nil)
				}
				if t.Name.Space != nsSOAP11 && t.Name.Space != nsSOAP12 {
					return cb, soapError(fmt.Sprintf("unsupported SOAP envelope namespace %q", clip(t.Name.Space)), nil)
				}
			case depth == 2 && t.Name.Local == "Body":
				inBody, bodyDepth = true, depth
			case opDepth > 0:
				if len(stack) > 0 {
					stack[len(stack)-1].hasChild = true
				}
				stack = append(stack, &frame{name: t.Name.Local, isNil: isNil(t.Attr)})
			case inBody && (strings.EqualFold(t.Name.Local, "Outbound") || strings.EqualFold(t.Name.Local, "Inbound")):
				if cb.op == "" { // the first operation element wins
					cb.op = "Outbound"
					if strings.EqualFold(t.Name.Local, "Inbound") {
						cb.op = "Inbound"
					}
					opDepth = depth
				}
			}
		case xml.EndElement:
			switch {
			case opDepth > 0 && depth > opDepth:
				f := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if !f.hasChild && !f.isNil {
					cb.fields = append(cb.fields, pair{f.name, f.text.String()})
				}
			case depth == opDepth:
				opDepth = -1 // done: later operation elements are ignored
			case depth == bodyDepth:
				inBody = false
			}
			if depth--; depth == 0 {
				rootDone = true
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return cb, soapError("text outside the SOAP Envelope", nil)
			}
		}
	}
	switch {
	case !rootDone:
		return cb, soapError("no SOAP Envelope in the body", nil)
	case bodyDepth == 0:
		return cb, soapError("no SOAP Body in the Envelope", nil)
	case cb.op == "":
		return cb, soapError("no Outbound or Inbound element in the SOAP Body", nil)
	}
	return cb, nil
}

func soapError(msg string, cause error) error {
	return &receivers.Error{Status: http.StatusBadRequest, Msg: "soap: " + msg, Err: cause}
}

// isNil reports an xsi:nil="true" attribute: a field sent as null.
func isNil(attrs []xml.Attr) bool {
	for _, a := range attrs {
		if a.Name.Local == "nil" && a.Name.Space == nsXSI {
			v := strings.TrimSpace(a.Value)
			return v == "true" || v == "1"
		}
	}
	return false
}

// xmlUTF8 strips a UTF-8 byte order mark and transcodes UTF-16 (marked by
// its byte order mark) to UTF-8, which encoding/xml reads natively; the
// declaration's encoding="utf-16" is then accepted by charsetReader.
func xmlUTF8(b []byte) []byte {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return b[3:]
	case len(b) >= 2 && (b[0] == 0xFF && b[1] == 0xFE || b[0] == 0xFE && b[1] == 0xFF):
		big := b[0] == 0xFE
		b = b[2:]
		u := make([]uint16, len(b)/2)
		for i := range u {
			if big {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			} else {
				u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
			}
		}
		return []byte(string(utf16.Decode(u)))
	}
	return b
}

// charsetReader lets encoding/xml read the encodings a SOAP stack may
// declare besides UTF-8.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii", "utf-16", "utf-16le", "utf-16be", "unicode":
		return in, nil // UTF-16 was transcoded by xmlUTF8
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		b, err := io.ReadAll(in) // bounded by the request body
		if err != nil {
			return nil, err
		}
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return strings.NewReader(string(r)), nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q", clip(label))
}
