package main

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// checkOrigin reports an --origin that no image can be fetched from,
// before anything starts, and returns it as it may be logged: without a
// password.
func checkOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--origin %q: want an http or https URL, such as http://images.internal:9292/v2/images", s)
	}
	return u.Redacted(), nil
}

// newOriginClient is the HTTP client of the origin: no limit on the
// whole exchange, since images may be large, but one on the wait for an
// answer.
func newOriginClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}
}
