package telesign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/receivers"
)

const (
	// maxDepth bounds the nesting of objects and arrays in a callback.
	// Telesign's deepest known shape (channel_status) is 4 levels deep.
	maxDepth = 64
	// maxEvents bounds the elements of an array body, so a small body of
	// empty objects cannot turn into a flood of events.
	maxEvents = 1000
)

func badRequest(format string, args ...any) *receivers.Error {
	return &receivers.Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// checkContentType accepts application/json and any application/*+json, with
// parameters, and a missing Content-Type (recorded bodies replayed by hand
// often have none; the body must still be JSON). A charset other than UTF-8
// is refused: JSON on the wire is UTF-8.
func checkContentType(r *http.Request) error {
	if r == nil {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	ok := err == nil && (mt == "application/json" ||
		strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
	if cs, has := params["charset"]; ok && has {
		switch strings.ToLower(cs) {
		case "utf-8", "utf8", "us-ascii":
		default:
			ok = false
		}
	}
	if !ok {
		return &receivers.Error{
			Status: http.StatusUnsupportedMediaType,
			Msg:    fmt.Sprintf("unsupported content type %.100q (want application/json)", ct),
		}
	}
	return nil
}

// decodeBody parses body into its top-level objects: one for an object, one
// per element for an array. Values are typed by convert.
func decodeBody(body []byte) ([]map[string]any, error) {
	// A UTF-8 byte order mark is tolerated by blanking it: offsets (and so
	// error positions) stay those of the body as sent.
	if bytes.HasPrefix(body, bom) {
		body = append([]byte("   "), body[len(bom):]...)
	}
	if off, ok := checkDepth(body); !ok {
		return nil, badRequest("malformed JSON: nested deeper than %d levels at %s", maxDepth, position(body, off))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, syntaxError(body, err)
	}
	if rest := dec.InputOffset(); len(bytes.TrimLeft(body[rest:], " \t\r\n")) > 0 {
		off := int(rest) + len(body[rest:]) - len(bytes.TrimLeft(body[rest:], " \t\r\n"))
		return nil, badRequest("malformed JSON: unexpected data after the top-level value at %s", position(body, off))
	}
	switch x := v.(type) {
	case map[string]any:
		return []map[string]any{convertObject(x)}, nil
	case []any:
		if len(x) == 0 {
			return nil, badRequest("empty array: no callback to record")
		}
		if len(x) > maxEvents {
			return nil, badRequest("array of %d callbacks exceeds the limit of %d", len(x), maxEvents)
		}
		out := make([]map[string]any, len(x))
		for i, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, badRequest("array element %d is %s, not a JSON object", i, kind(e))
			}
			out[i] = convertObject(m)
		}
		return out, nil
	}
	return nil, badRequest("top-level JSON value is %s, want an object or an array of objects", kind(v))
}

var bom = []byte("\xef\xbb\xbf")

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// syntaxError turns a decoder error into a 400 that points at the offending
// byte, so whoever replays a callback by hand can find the mistake.
func syntaxError(body []byte, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &receivers.Error{Status: http.StatusBadRequest, Err: err,
			Msg: fmt.Sprintf("malformed JSON at %s: %s", position(body, int(se.Offset)-1), se.Error())}
	case errors.Is(err, io.EOF) && len(bytes.TrimSpace(body)) == 0:
		return &receivers.Error{Status: http.StatusBadRequest, Err: err, Msg: "empty body: want a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return &receivers.Error{Status: http.StatusBadRequest, Err: err,
			Msg: fmt.Sprintf("malformed JSON at %s: unexpected end of input", position(body, len(body)))}
	}
	return &receivers.Error{Status: http.StatusBadRequest, Err: err, Msg: "malformed JSON: " + err.Error()}
}

// position renders a byte offset as "line L, column C (byte offset O)":
// lines and columns 1-based, columns counted in bytes, the offset 0-based.
func position(body []byte, off int) string {
	off = max(0, min(off, len(body)))
	line := 1 + bytes.Count(body[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(body[:off], '\n')
	return fmt.Sprintf("line %d, column %d (byte offset %d)", line, col, off)
}

// checkDepth scans body for nesting deeper than maxDepth, ignoring brackets
// inside strings. It returns the offset of the first bracket too deep.
func checkDepth(body []byte) (int, bool) {
	depth := 0
	inString, escaped := false, false
	for i, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > maxDepth {
				return i, false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return 0, true
}

// convertObject types the values of a decoded object in place: integers
// become int, other numbers float64, timestamps (by key name) time.Time in
// UTC, numeric strings under a "code" key int. Nested objects and arrays are
// converted recursively.
func convertObject(m map[string]any) map[string]any {
	for k, v := range m {
		m[k] = convertValue(k, v)
	}
	return m
}

func convertValue(key string, v any) any {
	switch x := v.(type) {
	case json.Number:
		return number(x)
	case string:
		// Status and error codes sent as strings ("200") become ints;
		// "0123" is not a code's canonical form and stays text.
		if key == "code" {
			if n, err := strconv.Atoi(x); err == nil && strconv.Itoa(n) == x {
				return n
			}
		}
		if isTimeKey(key) {
			if t, ok := parseTime(x); ok {
				return t
			}
		}
		return x
	case map[string]any:
		return convertObject(x)
	case []any:
		for i, e := range x {
			// Scalars are reinterpreted only directly under a known key;
			// objects in lists convert by their own keys.
			x[i] = convertValue("", e)
		}
		return x
	}
	return v
}

// number returns an int when n is integral and fits, else a float64. A
// number out of float range stays its literal text: ±Inf cannot be stored
// as JSON.
func number(n json.Number) any {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil && i == int64(int(i)) {
			return int(i)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return s
	}
	return f
}

// isTimeKey reports whether a field name is one Telesign uses for
// timestamps (updated_on, submit_timestamp, created_on_utc, …). Only such
// fields are converted, so a text message that looks like a date stays text.
func isTimeKey(k string) bool {
	for _, suf := range [...]string{"_on", "_on_utc", "_utc", "_timestamp", "_at", "_time"} {
		if strings.HasSuffix(k, suf) {
			return true
		}
	}
	return k == "timestamp" || k == "time"
}

// timeLayouts are tried in order. Telesign status callbacks carry an offset
// ("…Z"); Voice API events do not ("2019-03-15T06:48:22.151"), which is UTC.
var timeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
}

// parseTime parses an RFC 3339 timestamp with or without a zone (UTC when
// absent), also with a space instead of the 'T'. The result is UTC and
// within the years JSON can carry.
func parseTime(s string) (time.Time, bool) {
	if len(s) < 19 || len(s) > 40 || s[4] != '-' || s[7] != '-' || s[13] != ':' {
		return time.Time{}, false
	}
	if s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			if y := t.Year(); y < 1 || y > 9999 {
				return time.Time{}, false
			}
			return t, true
		}
	}
	return time.Time{}, false
}
