package console

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var liveAttr = regexp.MustCompile(`data-live="([^"]+)"`)

// The live delivery log polls for the deliveries after the newest it
// shows; when more than a page of them came in between two polls (a burst
// of callbacks), following X-Newest still brings every one, none skipped;
// also when the page showed an empty log.
func TestLiveRowsSkipNone(t *testing.T) {
	t.Run("after a delivery", func(t *testing.T) { testLiveRows(t, true) })
	t.Run("empty log", func(t *testing.T) { testLiveRows(t, false) })
}

func testLiveRows(t *testing.T, first bool) {
	listen, base := serveBoth(t)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	post := func(id int) {
		t.Helper()
		resp, err := http.PostForm(listen+"/hooks/fax", url.Values{"TransactionID": {fmt.Sprint(id)}, "Status": {"0"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("callback %d: %d", id, resp.StatusCode)
		}
	}
	if first {
		post(1)
	}
	_, page := get("/")
	m := liveAttr.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the delivery log has no live endpoint")
	}
	live := html.UnescapeString(m[1])
	const burst = pageSize + 10
	for i := range burst {
		post(100 + i)
	}
	seen := map[string]bool{}
	for range burst {
		resp, rows := get(live)
		if resp.StatusCode == http.StatusNoContent {
			break
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", live, resp.StatusCode)
		}
		for _, s := range regexp.MustCompile(`/subjects/(\d+)`).FindAllStringSubmatch(rows, -1) {
			seen[s[1]] = true
		}
		u, _ := url.Parse(live)
		q := u.Query()
		q.Set("after", resp.Header.Get("X-Newest"))
		live = u.Path + "?" + q.Encode()
	}
	var missing []string
	for i := range burst {
		if s := fmt.Sprint(100 + i); !seen[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 || seen["1"] {
		t.Errorf("live rows missed %d of %d new deliveries (%s); shown again the one on the page: %v",
			len(missing), burst, strings.Join(missing, " "), seen["1"])
	}
}
