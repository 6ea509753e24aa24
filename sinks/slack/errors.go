package slack

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/slack-go/slack"

	"github.com/switchboard/switchboard/sinks"
)

// permanentAPIErrors are chat.postMessage and incoming-webhook error codes
// that no retry can fix: the token, app, channel or message must change
// first. Anything else (internal_error, fatal_error, service_unavailable,
// request_timeout, unknown codes) is retried, bounded by the core's retry
// policy, because a transient failure marked permanent would need a manual
// retry.
var permanentAPIErrors = map[string]bool{
	"access_denied":                            true,
	"account_inactive":                         true,
	"action_prohibited":                        true,
	"as_user_not_supported":                    true,
	"channel_is_archived":                      true,
	"channel_not_found":                        true,
	"duplicate_channel_not_found":              true,
	"ekm_access_denied":                        true,
	"enterprise_is_restricted":                 true,
	"invalid_arguments":                        true,
	"invalid_auth":                             true,
	"invalid_blocks":                           true,
	"invalid_blocks_format":                    true,
	"invalid_payload":                          true,
	"invalid_token":                            true,
	"is_archived":                              true,
	"message_limit_exceeded":                   true,
	"messages_tab_disabled":                    true,
	"missing_scope":                            true,
	"msg_too_long":                             true,
	"no_active_hooks":                          true,
	"no_permission":                            true,
	"no_service":                               true,
	"no_service_id":                            true,
	"no_team":                                  true,
	"no_text":                                  true,
	"not_allowed_token_type":                   true,
	"not_authed":                               true,
	"not_in_channel":                           true,
	"org_login_required":                       true,
	"posting_to_general_channel_denied":        true,
	"restricted_action":                        true,
	"restricted_action_non_threadable_channel": true,
	"restricted_action_read_only_channel":      true,
	"restricted_action_thread_only_channel":    true,
	"team_access_not_granted":                  true,
	"team_disabled":                            true,
	"team_not_found":                           true,
	"token_expired":                            true,
	"token_revoked":                            true,
	"too_many_attachments":                     true,
	"user_not_found":                           true,
}

// classify turns a failed post into a sinks.Error: rate limits carry their
// Retry-After, HTTP statuses follow sinks.RetryableStatus, API error codes
// follow permanentAPIErrors, and everything else (network, timeouts,
// unparsable answers) is retryable. An error already classified is kept.
func classify(err error) *sinks.Error {
	var se *sinks.Error
	if errors.As(err, &se) {
		return se
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &sinks.Error{Err: err, Status: http.StatusTooManyRequests, RetryAfter: rl.RetryAfter}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return &sinks.Error{Err: err, Status: sc.Code, Permanent: !sinks.RetryableStatus(sc.Code)}
	}
	var api slack.SlackErrorResponse
	if errors.As(err, &api) {
		// Slack answers API errors with HTTP 200 and ok:false.
		return &sinks.Error{Err: err, Status: http.StatusOK, Permanent: permanentAPIErrors[api.Err]}
	}
	return &sinks.Error{Err: err}
}

// webhookError describes a non-2xx answer of an incoming webhook. Slack
// puts a short error code in the body ("invalid_token", "channel_not_found").
type webhookError struct {
	status int
	code   string
}

func (e *webhookError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("webhook answered %d", e.status)
	}
	return fmt.Sprintf("webhook answered %d: %s", e.status, e.code)
}
