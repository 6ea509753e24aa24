package console

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard/switchboard/internal/app"
)

type tryView struct {
	Receivers  []string
	Receiver   string
	Body       string
	Query      string
	Headers    string // request headers, "Name: value" per line
	SkipVerify bool
	Ran        bool
	Accepted   bool
	Verdict    string
	Output     string // what `switchboard test` prints
}

// tryLimit bounds a pasted callback (the receivers' largest body_limit is
// for real traffic; a pasted one is a recorded callback).
const tryLimit = 4 << 20

// tryForm asks for a callback body and a receiver.
func (c *Console) tryForm(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "try", "Try a callback", "try", tryView{Receivers: c.receivers()})
}

// try runs a pasted callback through the receiver and the rules as
// `switchboard test` does, and shows what it prints. Nothing is stored or
// sent.
func (c *Console) try(w http.ResponseWriter, r *http.Request) {
	if !c.post(w, r, tryLimit) {
		return
	}
	v := tryView{Receivers: c.receivers(), Receiver: r.PostForm.Get("receiver"), Body: r.PostForm.Get("body"),
		Query: r.PostForm.Get("query"), Headers: r.PostForm.Get("headers"), SkipVerify: r.PostForm.Get("skip_verify") != ""}
	if !slices.Contains(v.Receivers, v.Receiver) {
		c.fail(w, r, http.StatusBadRequest, "Pick one of the configured receivers.")
		return
	}
	// A textarea sends CRLF line ends; a recorded body has the file's.
	body := strings.ReplaceAll(v.Body, "\r\n", "\n")
	header := http.Header{}
	for _, line := range strings.Split(v.Headers, "\n") {
		if k, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) != "" {
			header.Add(strings.TrimSpace(k), strings.TrimSpace(val))
		}
	}
	res, err := c.rt.Config().DryRun(app.DryRunRequest{Receiver: v.Receiver, Body: []byte(body), Query: v.Query, Header: header, SkipVerify: v.SkipVerify})
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	var out bytes.Buffer
	app.WriteDryRun(&out, res)
	v.Ran, v.Output, v.Accepted = true, out.String(), res.Status == http.StatusOK
	if v.Accepted {
		n := 0
		for _, e := range res.Events {
			n += len(e.Messages)
		}
		v.Verdict = plural(len(res.Events), "event") + " accepted, " + plural(n, "message") + " would be sent"
	} else {
		v.Verdict = "refused: the service would answer " + http.StatusText(res.Status) + ": " + res.Error
	}
	c.render(w, r, http.StatusOK, "try", "Try a callback", "try", v)
}

func (c *Console) receivers() []string {
	var out []string
	for _, rc := range c.rt.Config().File.Receivers {
		out = append(out, rc.Name)
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
