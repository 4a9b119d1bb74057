package agent

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc CPU times; 100 on every Linux
// architecture vigil runs on.
const clockTicks = 100

// processUsage samples the process's CPU use (in % of one core, averaged
// since the previous sample) and resident memory from /proc/self. The
// reconcile loop is its only user.
type processUsage struct {
	lastCPU  float64 // seconds of CPU used
	lastWall time.Time
	percent  float64
}

func (u *processUsage) sample() (cpuPercent float64, rssBytes int64) {
	now := time.Now()
	if cpu, ok := readProcCPU(); ok {
		if !u.lastWall.IsZero() {
			if wall := now.Sub(u.lastWall).Seconds(); wall >= 0.5 {
				u.percent = 100 * (cpu - u.lastCPU) / wall
				u.lastCPU, u.lastWall = cpu, now
			}
		} else {
			u.lastCPU, u.lastWall = cpu, now
		}
	}
	return u.percent, readRSS()
}

// readProcCPU returns user+system CPU seconds of this process.
func readProcCPU() (float64, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; fields after it start
	// after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (ut + st) / clockTicks, true
}

func readRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
