package slack

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

// Slack's Block Kit and chat.postMessage limits, in characters.
const (
	maxHeader      = 150
	maxFieldText   = 2000
	maxSectionText = 3000
	maxFields      = 10
	maxText        = 40000
)

// payload is what one message posts: the plain-text fallback (title and
// text, shown in notifications and by clients without Block Kit) and the
// blocks.
type payload struct {
	text   string
	blocks []slack.Block
}

// render builds the message for m. A default message (m.Templated false)
// is vendor text: it gets a status emoji in its header and is escaped. A
// templated one is Slack mrkdwn already: the rules escaped the values its
// templates interpolate (unless marked raw) and left the template's own
// text, so mentions and links written in the template work.
func render(m *sinks.Message) payload {
	ev := m.Event
	if ev == nil {
		ev = &event.Event{}
	}
	// The fallback names what happened (the title) before the details:
	// notifications and screen readers show only this text.
	title, text := m.Title, m.Title+"\n"+m.Text
	if !m.Templated {
		title = statusEmoji(ev) + " " + title
		text = escape(text)
	} else {
		// The header is plain text, where nothing needs escaping.
		title = unescape(title)
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, trim(title, maxHeader), true, false)),
	}
	if m.Templated && strings.TrimSpace(m.Text) != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(trim(m.Text, maxSectionText)), nil, nil))
	}
	blocks = append(blocks, fieldSections(coreFields(ev))...)
	blocks = append(blocks, fieldSections(vendorFields(ev))...)

	ctx := "Rule *" + escape(m.Rule) + "* · event `" + escape(ev.ID) + "`"
	if m.Attempt > 1 {
		ctx += " · attempt " + strconv.Itoa(m.Attempt)
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(ctx)))
	return payload{text: trim(text, maxText), blocks: blocks}
}

// fieldSections lays fields out two per row, at most ten per section.
func fieldSections(fs []field) []slack.Block {
	var out []slack.Block
	for len(fs) > 0 {
		n := min(len(fs), maxFields)
		objs := make([]*slack.TextBlockObject, 0, n)
		for _, f := range fs[:n] {
			v := f.value
			if !f.mrkdwn {
				v = escape(v)
			}
			if v == "" {
				v = "–"
			}
			objs = append(objs, mrkdwn(trim("*"+f.label+"*\n"+v, maxFieldText)))
		}
		out = append(out, slack.NewSectionBlock(nil, objs, nil))
		fs = fs[n:]
	}
	return out
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func statusEmoji(ev *event.Event) string {
	switch ev.Status {
	case event.StatusSuccess:
		return ":white_check_mark:"
	case event.StatusFailure:
		if strings.Contains(strings.ToLower(ev.Description), "blocked") {
			return ":no_entry:"
		}
		return ":x:"
	case event.StatusPending:
		return ":hourglass_flowing_sand:"
	}
	return ":grey_question:"
}

// escape makes vendor text literal in Slack mrkdwn: &, < and > are control
// characters there (<!channel> would ping a whole channel).
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escape(s string) string { return escaper.Replace(s) }

var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

func unescape(s string) string { return unescaper.Replace(s) }

// trim shortens s to at most n characters, ending it with "…" when cut.
func trim(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
