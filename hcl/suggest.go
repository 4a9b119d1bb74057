package hcl

import (
	"fmt"
	"strings"
)

// suggest returns the candidate closest to name by edit distance when it is
// close enough to be a plausible typo, or "".
func suggest(name string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(name, c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > 2 && bestDist > len(name)/3 {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// didYouMean completes a "not found" detail: a suggestion when one is close,
// and the names that do exist (at most ten of them).
func didYouMean(missing, what, scope string, existing []string) string {
	var b strings.Builder
	if s := suggest(missing, existing); s != "" && missing != "" {
		fmt.Fprintf(&b, " Did you mean %q?", s)
	}
	switch {
	case len(existing) == 0:
		fmt.Fprintf(&b, " %s%s declares no %s.", strings.ToUpper(scope[:1]), scope[1:], what)
	case len(existing) <= 10:
		fmt.Fprintf(&b, " The %s of %s are: %s.", what, scope, strings.Join(existing, ", "))
	default:
		fmt.Fprintf(&b, " The %s of %s are: %s and %d more.", what, scope, strings.Join(existing[:10], ", "), len(existing)-10)
	}
	return b.String()
}

// Suggest returns the name among candidates that a mistyped name most
// plausibly meant, or "": the rule of the loader's "did you mean", for the
// command line too.
func Suggest(name string, candidates []string) string {
	return suggest(name, candidates)
}
