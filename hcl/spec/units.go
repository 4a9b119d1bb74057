package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a duration written as one or more number-unit pairs,
// such as "500ms", "30s", "2h", "14d" or "1h30m". Units: ms, s, m, h, d
// (24 hours) and w (7 days).
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total float64
	for in != "" {
		i := 0
		for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%q is not a duration: expected a number followed by a unit (ms, s, m, h, d, w), such as \"30s\" or \"14d\"", s)
		}
		n, err := strconv.ParseFloat(in[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration: bad number %q", s, in[:i])
		}
		in = in[i:]
		j := 0
		for j < len(in) && (in[j] < '0' || in[j] > '9') && in[j] != '.' {
			j++
		}
		var unit time.Duration
		switch in[:j] {
		case "ms":
			unit = time.Millisecond
		case "s":
			unit = time.Second
		case "m":
			unit = time.Minute
		case "h":
			unit = time.Hour
		case "d":
			unit = 24 * time.Hour
		case "w":
			unit = 7 * 24 * time.Hour
		case "":
			return 0, fmt.Errorf("%q is not a duration: the number needs a unit (ms, s, m, h, d, w), such as \"30s\"", s)
		default:
			return 0, fmt.Errorf("%q is not a duration: unknown unit %q (use ms, s, m, h, d or w)", s, in[:j])
		}
		in = in[j:]
		total += n * float64(unit)
		if total > math.MaxInt64/2 {
			return 0, fmt.Errorf("%q is too long a duration", s)
		}
	}
	return time.Duration(total), nil
}

// FormatDuration writes d in the units ParseDuration reads, using the largest
// units that divide it exactly ("14d", "1h30m", "500ms").
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	if d > 0 {
		fmt.Fprintf(&b, "%dns", d)
	}
	return b.String()
}

var sizeUnits = map[string]int64{
	"B":   1,
	"KB":  1000,
	"MB":  1000 * 1000,
	"GB":  1000 * 1000 * 1000,
	"TB":  1000 * 1000 * 1000 * 1000,
	"PB":  1000 * 1000 * 1000 * 1000 * 1000,
	"KIB": 1 << 10,
	"MIB": 1 << 20,
	"GIB": 1 << 30,
	"TIB": 1 << 40,
	"PIB": 1 << 50,
}

// ParseSize parses a byte size such as "500MB", "2TB" (decimal units) or
// "64GiB" (binary units). Unit letters are case-insensitive.
func ParseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size: expected a number followed by a unit, such as \"500MB\", \"2TB\" or \"64GiB\"", s)
	}
	n, err := strconv.ParseFloat(in[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: bad number %q", s, in[:i])
	}
	unitName := strings.ToUpper(strings.TrimSpace(in[i:]))
	if unitName == "" {
		return 0, fmt.Errorf("%q is not a size: the number needs a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), such as \"500GB\"", s)
	}
	unit, ok := sizeUnits[unitName]
	if !ok {
		return 0, fmt.Errorf("%q is not a size: unknown unit %q (use B, KB, MB, GB, TB, PB or KiB, MiB, GiB, TiB, PiB)", s, in[i:])
	}
	v := n * float64(unit)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large a size", s)
	}
	if v != math.Trunc(v) || n > 0 && v < 1 {
		// "0.5B" would silently be 0, which means no limit.
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	return int64(v), nil
}

// sizeUnitsDown are the units FormatSizeExact writes, largest first.
var sizeUnitsDown = []string{"PiB", "PB", "TiB", "TB", "GiB", "GB", "MiB", "MB", "KiB", "KB"}

// FormatSizeExact writes a byte count as a size is written in HCL, in the
// largest unit that divides it exactly ("1GB", "64GiB", "1500MB", "7B"), so
// that ParseSize reads it back to the same count and a size written with a
// whole number of its unit reads as it was written.
func FormatSizeExact(b int64) string {
	if b != 0 {
		for _, u := range sizeUnitsDown {
			if n := sizeUnits[strings.ToUpper(u)]; b%n == 0 {
				return fmt.Sprintf("%d%s", b/n, u)
			}
		}
	}
	return fmt.Sprintf("%dB", b)
}

// ParseHourWindow parses a daily window "HH:MM-HH:MM"; the end may be
// "24:00", and an end before the start crosses midnight.
func ParseHourWindow(s string) (HourWindow, error) {
	start, end, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return HourWindow{}, fmt.Errorf("%q is not an hour window: expected \"HH:MM-HH:MM\", such as \"01:00-05:00\"", s)
	}
	a, err := parseClock(strings.TrimSpace(start), false)
	if err != nil {
		return HourWindow{}, fmt.Errorf("%q is not an hour window: %v", s, err)
	}
	b, err := parseClock(strings.TrimSpace(end), true)
	if err != nil {
		return HourWindow{}, fmt.Errorf("%q is not an hour window: %v", s, err)
	}
	if a == b {
		return HourWindow{}, fmt.Errorf("%q is an empty hour window: start and end are the same time", s)
	}
	return HourWindow{StartMinute: a, EndMinute: b}, nil
}

func parseClock(s string, allowEndOfDay bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) == 0 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && (mm != 0 || !allowEndOfDay) {
		return 0, fmt.Errorf("%q is not a time of day (00:00 to 23:59, or 24:00 as an end)", s)
	}
	return hh*60 + mm, nil
}

// FormatHourWindow writes w as "HH:MM-HH:MM".
func FormatHourWindow(w HourWindow) string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.StartMinute/60, w.StartMinute%60, w.EndMinute/60, w.EndMinute%60)
}

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday,
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

// ParseWeekday reads a weekday as "mon" or "monday", in any case.
func ParseWeekday(s string) (time.Weekday, error) {
	d, ok := weekdayNames[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return 0, fmt.Errorf("%q is not a weekday: use mon, tue, wed, thu, fri, sat or sun", s)
	}
	return d, nil
}

// FormatSize writes a byte count for people, in the decimal units that
// sizes are written in: "512 B", "67.1 MB", "31.2 GB".
func FormatSize(b float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	for math.Abs(b) >= 1000 && i < len(units)-1 {
		b /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", b, units[i])
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}

// ParseTime reads a point in time as RFC 3339 ("2026-12-01T21:00:00Z",
// "2026-12-01T22:00:00+01:00") or as a date ("2027-06-01"), which is
// midnight in loc. The result is in UTC.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	in := strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, in); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, in, loc); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: write RFC 3339 (\"2026-12-01T21:00:00Z\", or with an offset such as +01:00) or a date (\"2027-06-01\", midnight in the site's time zone)", s)
}
