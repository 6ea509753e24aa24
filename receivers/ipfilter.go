package receivers

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// IPFilter admits callbacks by client address: the allow_ips and
// trusted_proxies keys of a receiver. The client address is the TCP peer,
// unless the peer is a trusted proxy; then it is the right-most address of
// X-Forwarded-For that is not itself a trusted proxy. X-Forwarded-For from
// any other peer is ignored, so a caller cannot forge its address.
//
// A nil *IPFilter, or one without allowed prefixes, admits every address.
type IPFilter struct {
	allow   []netip.Prefix
	trusted []netip.Prefix
}

// NewIPFilter parses allowIPs and trustedProxies, each a list of CIDR
// prefixes ("192.0.2.0/24", "2001:db8::/32") or single addresses.
func NewIPFilter(allowIPs, trustedProxies []string) (*IPFilter, error) {
	allow, err1 := ParsePrefixes("allow_ips", allowIPs)
	trusted, err2 := ParsePrefixes("trusted_proxies", trustedProxies)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &IPFilter{allow: allow, trusted: trusted}, nil
}

// ParsePrefixes parses a list of CIDR prefixes or single addresses. key names
// the configuration key in errors; every bad entry is reported.
func ParsePrefixes(key string, list []string) ([]netip.Prefix, error) {
	var (
		out  []netip.Prefix
		errs []error
	)
	for i, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96) // clients are unmapped too
			}
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		errs = append(errs, fmt.Errorf("%s[%d]: %q is not a CIDR prefix or IP address", key, i, s))
	}
	return out, errors.Join(errs...)
}

// Check admits or refuses r: nil, or an *Error with status 403 whose message
// says nothing about the rule (the cause, with the address, is for logs).
func (f *IPFilter) Check(r *http.Request) error {
	if f == nil || len(f.allow) == 0 {
		return nil
	}
	addr := f.ClientAddr(r)
	if addr.IsValid() && contains(f.allow, addr) {
		return nil
	}
	cause := fmt.Errorf("client address %s not in allow_ips", addr)
	if !addr.IsValid() {
		cause = errors.New("client address unknown or malformed")
	}
	return &Error{Status: http.StatusForbidden, Msg: "forbidden", Err: cause}
}

// FromTrustedProxy reports whether the TCP peer of r is a trusted proxy, so
// that its X-Forwarded-* headers may be believed.
func (f *IPFilter) FromTrustedProxy(r *http.Request) bool {
	if f == nil || len(f.trusted) == 0 {
		return false
	}
	peer := parseAddr(r.RemoteAddr)
	return peer.IsValid() && contains(f.trusted, peer)
}

// ClientAddr returns the address of the client that made r, following
// X-Forwarded-For only through trusted proxies. It returns the zero Addr when
// the address cannot be determined (a malformed entry in a trusted chain).
func (f *IPFilter) ClientAddr(r *http.Request) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !f.FromTrustedProxy(r) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		a := parseAddr(hop)
		if !a.IsValid() {
			return netip.Addr{}
		}
		client = a
		if !contains(f.trusted, a) {
			break
		}
	}
	return client
}

// parseAddr parses "ip", "ip:port" or "[ip]:port", dropping any zone and
// unmapping IPv4-mapped IPv6 addresses.
func parseAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap()
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
