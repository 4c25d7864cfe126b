// Command gorilla-peer is an echo peer built on gorilla/websocket for silverback's interop tests.
//
//	gorilla-peer server [-compress]       listen on 127.0.0.1, on a port the OS picks
//	gorilla-peer client [-compress] URL   connect to URL
//
// Either way the peer echoes every data message back with its type, through NextWriter in
// writes of 16 KiB; the write buffer is that size too, so messages longer than one buffer go out
// as several frames. Text messages that start with "cmd:" are commands instead:
//
//	cmd:ping <data>            send a ping carrying <data>; report the pong
//	cmd:close <code> <reason>  start the closing handshake with that code and reason
//
// The peer reports on stdout, one JSON object per line, with the connection's number in "conn":
// listening {port}, open {extensions} (the negotiated Sec-WebSocket-Extensions value), pong {data},
// close {code, reason} (the close frame the other side sent), error {message}. The client exits
// once its connection has closed; the server runs until it is killed.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

const fragmentSize = 16 << 10

var (
	outMu       sync.Mutex
	out         = json.NewEncoder(os.Stdout)
	connNumbers int64
)

func report(event string, conn int64, fields map[string]interface{}) {
	line := map[string]interface{}{"event": event}
	if conn != 0 {
		line["conn"] = conn
	}
	for k, v := range fields {
		line[k] = v
	}
	outMu.Lock()
	defer outMu.Unlock()
	out.Encode(line)
}

func fail(err error) {
	report("error", 0, map[string]interface{}{"message": err.Error()})
	os.Exit(1)
}

// echo serves one connection until it closes.
func echo(c *websocket.Conn, extensions string) {
	conn := atomic.AddInt64(&connNumbers, 1)
	report("open", conn, map[string]interface{}{"extensions": extensions})
	c.SetPongHandler(func(data string) error {
		report("pong", conn, map[string]interface{}{"data": data})
		return nil
	})
	for {
		messageType, p, err := c.ReadMessage()
		if err != nil {
			var closeErr *websocket.CloseError
			if errors.As(err, &closeErr) {
				report("close", conn, map[string]interface{}{"code": closeErr.Code, "reason": closeErr.Text})
			} else {
				report("error", conn, map[string]interface{}{"message": err.Error()})
			}
			return
		}
		if messageType == websocket.TextMessage && bytes.HasPrefix(p, []byte("cmd:")) {
			if err := command(c, string(p[4:])); err != nil {
				report("error", conn, map[string]interface{}{"message": err.Error()})
			}
			continue
		}
		w, err := c.NextWriter(messageType)
		if err != nil {
			report("error", conn, map[string]interface{}{"message": err.Error()})
			return
		}
		for len(p) > 0 {
			n := fragmentSize
			if n > len(p) {
				n = len(p)
			}
			if _, err := w.Write(p[:n]); err != nil {
				break
			}
			p = p[n:]
		}
		if err := w.Close(); err != nil {
			report("error", conn, map[string]interface{}{"message": err.Error()})
			return
		}
	}
}

func command(c *websocket.Conn, text string) error {
	name, arg, _ := strings.Cut(text, " ")
	deadline := time.Now().Add(5 * time.Second)
	switch name {
	case "ping":
		return c.WriteControl(websocket.PingMessage, []byte(arg), deadline)
	case "close":
		codeText, reason, _ := strings.Cut(arg, " ")
		code, err := strconv.Atoi(codeText)
		if err != nil {
			return err
		}
		// The read loop goes on and sees the other side's close frame as a CloseError.
		return c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
	}
	return fmt.Errorf("unknown command %q", name)
}

// recordingWriter hands gorilla a connection that keeps the first bytes written on it: the
// handshake answer, whose Sec-WebSocket-Extensions value Upgrader does not otherwise expose.
type recordingWriter struct {
	http.ResponseWriter
	conn *recordingConn
}

func (w *recordingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := w.ResponseWriter.(http.Hijacker).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &recordingConn{Conn: c}
	return w.conn, brw, nil
}

type recordingConn struct {
	net.Conn
	first []byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	if c.first == nil {
		c.first = append([]byte{}, p...)
	}
	return c.Conn.Write(p)
}

func serve(compress bool) {
	upgrader := websocket.Upgrader{
		EnableCompression: compress,
		WriteBufferSize:   fragmentSize,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	report("listening", 0, map[string]interface{}{"port": ln.Addr().(*net.TCPAddr).Port})
	handler := func(w http.ResponseWriter, r *http.Request) {
		rw := &recordingWriter{ResponseWriter: w}
		c, err := upgrader.Upgrade(rw, r, nil)
		if err != nil {
			return // Upgrade answered with an HTTP error
		}
		defer c.Close()
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(rw.conn.first)), r)
		if err != nil {
			fail(err)
		}
		echo(c, resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	fail(http.Serve(ln, http.HandlerFunc(handler)))
}

func connect(url string, compress bool) {
	dialer := websocket.Dialer{EnableCompression: compress, WriteBufferSize: fragmentSize}
	c, resp, err := dialer.Dial(url, nil)
	if err != nil {
		fail(err)
	}
	defer c.Close()
	echo(c, resp.Header.Get("Sec-WebSocket-Extensions"))
}

func main() {
	compress := flag.Bool("compress", false, "negotiate permessage-deflate")
	if len(os.Args) < 2 {
		fail(errors.New("usage: gorilla-peer server|client [-compress] [URL]"))
	}
	mode := os.Args[1]
	flag.CommandLine.Parse(os.Args[2:])
	switch {
	case mode == "server":
		serve(*compress)
	case mode == "client" && flag.NArg() == 1:
		connect(flag.Arg(0), *compress)
	default:
		fail(errors.New("usage: gorilla-peer server|client [-compress] [URL]"))
	}
}
