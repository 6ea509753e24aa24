package slack

import (
	"net"
	"net/url"
	"strings"

	"github.com/switchboard/switchboard/internal/config"
)

// DefaultAPIURL is the Slack Web API base used by the bot-token path.
const DefaultAPIURL = "https://slack.com/api/"

// DefaultRate is the send rate, in messages per second, used when
// Config.RateLimit is zero. Slack allows about one message per second per
// channel; bursts above that are answered with 429.
const DefaultRate = 1.0

// Config is the configuration of one slack sink. Exactly one of WebhookURL
// and Token must be set; Token requires Channel.
type Config struct {
	// WebhookURL is an incoming-webhook URL
	// (https://hooks.slack.com/services/…). It is a secret: anyone holding
	// it can post to the channel.
	WebhookURL config.Secret `yaml:"webhook_url"`
	// Token is a bot token (xoxb-…) used with chat.postMessage.
	Token config.Secret `yaml:"token"`
	// Channel is the channel ID (C0123…) or name (#ops) to post to. Required
	// with Token; with WebhookURL only legacy webhooks honour it.
	Channel string `yaml:"channel"`
	// Username and IconEmoji override the poster's name and icon (":fax:").
	// With Token they need the chat:write.customize scope. Empty keeps the
	// app's own.
	Username  string `yaml:"username"`
	IconEmoji string `yaml:"icon_emoji"`
	// RateLimit is the most messages per second this sink sends; messages
	// beyond it wait in the store. Zero means DefaultRate (1/s).
	RateLimit float64 `yaml:"rate_limit"`
	// APIURL is the Web API base for the token path. Empty means
	// DefaultAPIURL; set it for GovSlack ("https://slack-gov.com/api/") or
	// a test server. Like WebhookURL it must be https unless the host is
	// loopback.
	APIURL string `yaml:"api_url"`

	// Thread is an expr expression over the event (the names of a rule's
	// `when`), e.g. subject: the messages with the same value form one
	// Slack thread. The first is posted to the channel, the later ones
	// reply in its thread, one at a time and in order. Token only: an
	// incoming webhook cannot thread. Empty: every message is posted to
	// the channel. The expression is compiled by the caller (package
	// rules), like a rule's throttle key.
	Thread string `yaml:"thread"`
	// UpdateParent edits a thread's first message (chat.update) to show
	// its latest message, so the channel shows each transaction's current
	// status. Each message then costs up to two API calls: the sink sends
	// at half of RateLimit. Requires Thread.
	UpdateParent bool `yaml:"update_parent"`
	// Broadcast also shows a reply in the channel (reply_broadcast) when
	// its event is a final failure. Requires Thread.
	Broadcast bool `yaml:"broadcast"`
}

// Validate checks the configuration and fills in defaults (RateLimit,
// APIURL). Its errors never contain the webhook URL or the token.
func (c *Config) Validate() error {
	var errs config.Errors
	add := func(format string, args ...any) { errs = append(errs, config.Errorf(0, "", format, args...)) }

	hook, token := c.WebhookURL.Value(), c.Token.Value()
	switch {
	case hook == "" && token == "":
		add("one of webhook_url or token is required")
	case hook != "" && token != "":
		add("webhook_url and token are mutually exclusive")
	case hook != "":
		if err := checkURL(hook); err != "" {
			add("webhook_url: %s", err)
		}
	default:
		if !strings.HasPrefix(token, "xox") {
			add("token: not a Slack token (expected a bot token, xoxb-…)")
		}
		if c.Channel == "" {
			add("channel is required with token")
		}
	}
	switch {
	case c.RateLimit < 0:
		add("rate_limit: must not be negative (messages per second)")
	case c.RateLimit == 0:
		c.RateLimit = DefaultRate
	}
	switch {
	case c.Thread != "" && hook != "":
		errs = append(errs, config.KeyErrorf("thread", "thread: an incoming webhook cannot thread: Slack gives it no message ts to reply to; use a bot token (token and channel)"))
	case c.Thread == "" && c.UpdateParent:
		errs = append(errs, config.KeyErrorf("update_parent", "update_parent: needs thread (the key of the messages that share a parent)"))
	case c.Thread == "" && c.Broadcast:
		errs = append(errs, config.KeyErrorf("broadcast", "broadcast: needs thread (only thread replies are broadcast)"))
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	} else if err := checkURL(c.APIURL); err != "" {
		add("api_url: %s", err)
	} else if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	return errs.Err()
}

// checkURL returns what is wrong with a webhook or API URL, without quoting
// it: a webhook URL is a secret.
func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "not a valid URL"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		// Plain HTTP would send the webhook path or the token in clear;
		// only a local relay or test server may use it.
		if isLoopback(u.Hostname()) {
			return ""
		}
		return "must use https"
	}
	return "must use https"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
