package interfax

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

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
// through any wrappers. It does not dispatch on SOAPAction. params are the
// Content-Type's parameters: a charset there is the body's (xmlUTF8).
func parseSOAP(body []byte, params map[string]string) (callback, error) {
	var cb callback
	body, decoded, err := xmlUTF8(body, params["charset"])
	if err != nil {
		return cb, err
	}
	var badCharset error
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.CharsetReader = xmlCharsetReader(decoded, &badCharset)

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
		if badCharset != nil {
			return cb, badCharset
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
