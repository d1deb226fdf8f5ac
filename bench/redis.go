package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// respConn is the little of the Redis protocol the benchmark needs (SCAN,
// DEL, INFO), so that it adds no client library to the module.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRedis(addr string) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &respConn{c: c, r: bufio.NewReader(c)}, nil
}

func (rc *respConn) do(args ...string) (any, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	return readReply(rc.r)
}

// readReply reads one RESP2 reply: strings and bulk strings as string,
// integers as int64, arrays as []any, errors as error.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, fmt.Errorf("redis: %s", line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// redisCleanup deletes every key starting with prefix and returns how many.
func redisCleanup(addr, prefix string) (int, error) {
	rc, err := dialRedis(addr)
	if err != nil {
		return 0, err
	}
	defer rc.c.Close()
	cursor, deleted := "0", 0
	for {
		reply, err := rc.do("SCAN", cursor, "MATCH", prefix+"*", "COUNT", "1000")
		if err != nil {
			return deleted, err
		}
		parts, ok := reply.([]any)
		if !ok || len(parts) != 2 {
			return deleted, fmt.Errorf("unexpected SCAN reply")
		}
		cursor, _ = parts[0].(string)
		keys, _ := parts[1].([]any)
		if len(keys) > 0 {
			args := []string{"DEL"}
			for _, k := range keys {
				s, _ := k.(string)
				args = append(args, s)
			}
			n, err := rc.do(args...)
			if err != nil {
				return deleted, err
			}
			d, _ := n.(int64)
			deleted += int(d)
		}
		if cursor == "0" || cursor == "" {
			return deleted, nil
		}
	}
}

// redisVersion is the server's redis_version, or "" when unreachable.
func redisVersion(addr string) string {
	rc, err := dialRedis(addr)
	if err != nil {
		return ""
	}
	defer rc.c.Close()
	reply, err := rc.do("INFO", "server")
	info, _ := reply.(string)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return ""
}
