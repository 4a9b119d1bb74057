package recorder

import (
	"context"
	"net"
	"time"
)

// Read coalescing for TCP cameras. gortsplib reads interleaved RTP through a
// 4 KiB bufio.Reader, so a 3 Mbit/s camera costs a read system call and a
// goroutine wake-up for nearly every packet (hundreds per second). A
// recorder does not need packets the moment they arrive: coalescedConn
// waits until readPace has passed since a read that emptied the socket, then
// takes everything queued in one call. At a hundred cameras this removes
// most of the recorder's system calls and scheduler work; the kernel's
// socket buffer holds the few kilobytes that arrive meanwhile.
const (
	readPace   = 50 * time.Millisecond
	readBuffer = 32 << 10
)

type coalescedConn struct {
	net.Conn
	buf      []byte
	r, w     int
	lastFill time.Time
	drained  bool // the last fill did not fill buf: the socket was empty
}

func (c *coalescedConn) Read(p []byte) (int, error) {
	if c.r == c.w {
		if c.drained {
			if wait := readPace - time.Since(c.lastFill); wait > 0 {
				time.Sleep(wait)
			}
		}
		if c.buf == nil {
			c.buf = make([]byte, readBuffer)
		}
		n, err := c.Conn.Read(c.buf)
		c.lastFill = time.Now()
		c.drained = n < len(c.buf)
		c.r, c.w = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

func dialCoalesced(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &coalescedConn{Conn: conn}, nil
}
