package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/internal/app"
	"github.com/switchboard/switchboard/internal/store"
)

type deliveryView struct {
	D         *store.Delivery
	Event     string // the event's JSON, indented
	Attempts  []store.Attempt
	Preview   app.Preview
	Blocks    []slackBlock
	Headers   [][2]string // the webhook request's headers, sorted
	Retryable bool        // dead or silenced: it can be sent again by hand
	Live      string      // the state endpoint, while the delivery can change
}

// delivery is one delivery: its event, rule and sink, the message as its
// sink renders it, and every recorded attempt.
func (c *Console) delivery(w http.ResponseWriter, r *http.Request) {
	d, atts, err := c.rt.Store().Get(r.Context(), r.PathValue("id"))
	if err != nil {
		c.storeFailed(w, r, "get delivery", err)
		return
	}
	v := deliveryView{D: d, Event: pretty(d.EventJSON), Attempts: atts, Retryable: retryable(d.State)}
	v.Preview = c.rt.Config().Preview(d, c.now())
	v.Blocks = readableBlocks(v.Preview.SlackBlocks)
	if wh := v.Preview.Webhook; wh != nil {
		for k, val := range wh.Headers {
			v.Headers = append(v.Headers, [2]string{k, val})
		}
		slices.SortFunc(v.Headers, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	}
	if d.State == store.StatePending {
		v.Live = "/deliveries/" + url.PathEscape(d.ID) + "/state"
	}
	c.render(w, r, http.StatusOK, "delivery", "Delivery "+d.ID, "deliveries", v)
}

// deliveryState answers a delivery's state as text, for the page of a
// pending delivery to refresh itself when it settles.
func (c *Console) deliveryState(w http.ResponseWriter, r *http.Request) {
	d, _, err := c.rt.Store().Get(r.Context(), r.PathValue("id"))
	if err != nil {
		http.Error(w, "unknown delivery", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, d.State)
}

// slackBlock is one Block Kit block as readable lines.
type slackBlock struct {
	Type  string
	Lines []string
}

// readableBlocks turns Block Kit JSON into the text each block shows:
// the header, a section's text and fields, a context's elements.
func readableBlocks(raw json.RawMessage) []slackBlock {
	type text struct {
		Text string `json:"text"`
	}
	var blocks []struct {
		Type     string `json:"type"`
		Text     *text  `json:"text"`
		Fields   []text `json:"fields"`
		Elements []text `json:"elements"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &blocks) != nil {
		return nil
	}
	out := make([]slackBlock, 0, len(blocks))
	for _, b := range blocks {
		sb := slackBlock{Type: b.Type}
		if b.Text != nil {
			sb.Lines = append(sb.Lines, slackText(b.Text.Text))
		}
		for _, f := range append(b.Fields, b.Elements...) {
			sb.Lines = append(sb.Lines, slackText(f.Text))
		}
		out = append(out, sb)
	}
	return out
}

type retryView struct {
	Filter filter
	Back   string // the delivery log with the same filter
	Count  int
}

// retryable reports whether a delivery in state can be sent again by hand,
// as `switchboard deliveries retry ID` does: a dead one, or one a silence
// held back.
func retryable(state string) bool {
	return state == store.StateDead || state == store.StateSilenced
}

// confirmRetry asks before re-queuing every dead delivery the filter
// matches, naming how many that is.
func (c *Console) confirmRetry(w http.ResponseWriter, r *http.Request) {
	v := retryView{Filter: readFilter(r.URL.Query())}
	v.Filter.State = store.StateDead
	sf, err := v.Filter.store(c.now())
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	counts, err := c.rt.Store().CountStates(r.Context(), sf)
	if err != nil {
		c.storeFailed(w, r, "count dead deliveries", err)
		return
	}
	v.Count = counts[store.StateDead]
	v.Back = "/?" + v.Filter.Query()
	c.render(w, r, http.StatusOK, "retry", "Retry dead deliveries", "deliveries", v)
}

// retry re-queues one dead delivery (id=…) or every dead one matching the
// filter, with a fresh attempt budget: what `switchboard deliveries
// retry` does.
func (c *Console) retry(w http.ResponseWriter, r *http.Request) {
	if !c.post(w, r, 64<<10) {
		return
	}
	st := c.rt.Store()
	if id := r.PostForm.Get("id"); id != "" {
		d, _, err := st.Get(r.Context(), id)
		if err != nil {
			c.storeFailed(w, r, "retry", err)
			return
		}
		if !retryable(d.State) {
			c.fail(w, r, http.StatusConflict, fmt.Sprintf("Delivery %s is %s: only dead and silenced deliveries can be retried.", id, d.State))
			return
		}
		if _, err := st.Retry(r.Context(), id); err != nil {
			c.storeFailed(w, r, "retry", err)
			return
		}
		c.rt.Log().Info("delivery re-queued", "delivery", id, "sink", d.Sink, "by", "console")
		c.rt.Notify(d.Sink)
		http.Redirect(w, r, "/deliveries/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	f := readFilter(r.PostForm)
	f.State = store.StateDead
	sf, err := f.store(c.now())
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	n, err := st.RetryMatching(r.Context(), sf)
	if err != nil {
		c.storeFailed(w, r, "retry dead", err)
		return
	}
	c.rt.Log().Info("dead deliveries re-queued", "deliveries", n, "sink", f.Sink, "rule", f.Rule, "by", "console")
	if n > 0 {
		c.rt.Notify(c.sinkNames(f.Sink)...)
	}
	f.State = ""
	http.Redirect(w, r, "/?"+f.Query("retried", fmt.Sprint(n)), http.StatusSeeOther)
}

// sinkNames is the one sink, or every configured sink when "".
func (c *Console) sinkNames(sink string) []string {
	if sink != "" {
		return []string{sink}
	}
	var out []string
	for _, s := range c.rt.Config().File.Sinks {
		out = append(out, s.Name)
	}
	return out
}

// slackDate is Slack's date formatting, <!date^unix^format|fallback>.
var slackDate = regexp.MustCompile(`<!date\^[^|>]*\|([^>]*)>`)

// slackUnescape undoes the escaping Slack mrkdwn requires.
var slackUnescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// slackText is mrkdwn as Slack shows it: dates by their fallback, escaped
// characters as themselves (the page escapes them again, as HTML).
func slackText(s string) string {
	return slackUnescape.Replace(slackDate.ReplaceAllString(s, "$1"))
}
