package interfax

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"

	"github.com/switchboard/switchboard/receivers"
)

// lookupCharset returns the encoding of a declared charset label, or nil
// when the bytes are to be read as UTF-8: no label, UTF-8 itself, or
// US-ASCII (a subset, and a body declared ASCII with other bytes in it is
// far more likely UTF-8 than anything else).
//
// Labels are looked up as IANA charset names first, so ISO-8859-1 means
// exactly ISO-8859-1, then as the WHATWG Encoding Standard's labels that
// browsers and HTTP libraries send (cp1252, utf8, …). A label neither knows,
// or one without a decoder (the WHATWG "replacement" encodings), is a 415
// naming it.
func lookupCharset(label string) (encoding.Encoding, error) {
	label = strings.TrimSpace(label)
	if label == "" {
		return nil, nil
	}
	enc, err := ianaindex.IANA.Encoding(label)
	if err != nil || enc == nil {
		enc, err = htmlindex.Get(label)
	}
	switch {
	case err != nil || enc == nil || enc == encoding.Replacement:
		return nil, receivers.Errorf(http.StatusUnsupportedMediaType, "unsupported charset %q", clip(label))
	case enc == unicode.UTF8:
		return nil, nil
	}
	if name, _ := ianaindex.IANA.Name(enc); name == "US-ASCII" {
		return nil, nil
	}
	return enc, nil
}

// charsetDecoder is lookupCharset's decoder: nil for UTF-8.
func charsetDecoder(label string) (*encoding.Decoder, error) {
	enc, err := lookupCharset(label)
	if enc == nil || err != nil {
		return nil, err
	}
	return enc.NewDecoder(), nil
}

// decode transcodes s, a field name or value in the charset that label
// declared, to UTF-8. A nil dec leaves s as it is (UTF-8; invalid bytes
// become U+FFFD in the event data).
func decode(dec *encoding.Decoder, label, s string) (string, error) {
	if dec == nil {
		return s, nil
	}
	out, err := dec.String(s)
	if err != nil {
		return "", &receivers.Error{Status: http.StatusBadRequest,
			Msg: "malformed form body: not valid " + strconv.Quote(clip(label)), Err: err}
	}
	return out, nil
}

// partCharset is the charset of one multipart part: its own Content-Type's,
// else the request's, else "" (UTF-8).
func partCharset(partContentType, requestCharset string) string {
	if partContentType != "" {
		if _, params, err := mime.ParseMediaType(partContentType); err == nil && params["charset"] != "" {
			return params["charset"]
		}
	}
	return requestCharset
}

// xmlUTF8 returns a SOAP body as UTF-8 when its encoding is known before the
// XML declaration is read, and whether it did so (the declaration's encoding
// is then ignored). As XML and RFC 7303 rank them: a byte order mark
// (UTF-8, UTF-16 LE or BE) first, then the Content-Type's charset. With
// neither, the body is returned as it is and the declaration's encoding,
// UTF-8 by default, decides (see xmlCharsetReader).
func xmlUTF8(body []byte, ctCharset string) ([]byte, bool, error) {
	switch {
	case bytes.HasPrefix(body, []byte{0xEF, 0xBB, 0xBF}):
		return body[3:], true, nil
	case bytes.HasPrefix(body, []byte{0xFF, 0xFE}), bytes.HasPrefix(body, []byte{0xFE, 0xFF}):
		b, err := unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder().Bytes(body)
		if err != nil {
			return nil, false, soapError("malformed UTF-16", err)
		}
		return b, true, nil
	case strings.TrimSpace(ctCharset) == "":
		return body, false, nil
	}
	dec, err := charsetDecoder(ctCharset)
	if err != nil {
		return nil, false, err
	}
	if dec == nil {
		return body, true, nil
	}
	b, err := dec.Bytes(body)
	if err != nil {
		return nil, false, soapError("body is not valid "+strconv.Quote(clip(ctCharset)), err)
	}
	return b, true, nil
}

// xmlCharsetReader decodes the rest of an XML document from the encoding its
// declaration names, unless the body was already made UTF-8 (decoded) by
// xmlUTF8. It records a label it cannot decode in *bad, since encoding/xml
// keeps only the text of the error.
func xmlCharsetReader(decoded bool, bad *error) func(string, io.Reader) (io.Reader, error) {
	return func(label string, in io.Reader) (io.Reader, error) {
		if decoded {
			return in, nil // a byte order mark or the Content-Type decided
		}
		enc, err := lookupCharset(label)
		if err != nil {
			*bad = err
			return nil, err
		}
		if enc == nil {
			return in, nil
		}
		if name, _ := ianaindex.IANA.Name(enc); strings.HasPrefix(name, "UTF-16") || strings.HasPrefix(name, "UTF-32") {
			// A declaration encoding/xml could read byte by byte is not
			// in UTF-16 (which has a byte order mark, handled by
			// xmlUTF8): read the document as UTF-8, the XML default.
			return in, nil
		}
		return enc.NewDecoder().Reader(in), nil
	}
}
