package spec

import (
	"net"
	"net/url"
	"strings"
)

// CameraDestination is where a camera URL's credentials go: its scheme,
// host and port ("rtsps://cam.example.com:322"), with the scheme and host
// in lower case and the scheme's default port written out, so that
// rtsp://Cam/ and rtsp://cam:554/x name the same destination. It is "" for
// a URL that does not parse.
func CameraDestination(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"rtsp": "554", "rtsps": "322"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// URLPassword is the password of a URL's user information, "" without one.
func URLPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

// KeepsPassword reports whether a camera of a spec keeps its committed
// password rather than giving one: its password, or its URL's, is a
// fingerprint as /v1/state shows it.
func KeepsPassword(c *Camera) bool {
	return IsFingerprint(c.Password) || IsFingerprint(URLPassword(c.URL))
}
