// Command mail runs the suite's development mail server (internal/mailbox):
// SMTP on a local address that keeps every message it receives, and an
// HTTP API listing them. Nothing is relayed anywhere.
//
//	go run ./dev/mail                       # SMTP 127.0.0.1:2525, HTTP 127.0.0.1:8025, .data/mail
//	go run ./dev/mail -smtp 127.0.0.1:0 -dir ''
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"sagasuite/internal/mailbox"
)

func main() {
	smtpAddr := flag.String("smtp", envOr("SMTP_LISTEN", "127.0.0.1:2525"), "SMTP listen address (env SMTP_LISTEN)")
	httpAddr := flag.String("http", envOr("MAIL_HTTP_LISTEN", "127.0.0.1:8025"), "HTTP API listen address (env MAIL_HTTP_LISTEN)")
	// MAIL_DIR set but empty keeps the messages in memory (the test and
	// benchmark stacks: suite.Layout's MailDir ""); unset, .data/mail.
	defDir, set := os.LookupEnv("MAIL_DIR")
	if !set {
		defDir = ".data/mail"
	}
	dir := flag.String("dir", defDir, "directory that keeps the messages ('' keeps them in memory only; env MAIL_DIR)")
	flag.Parse()
	if err := run(*smtpAddr, *httpAddr, *dir); err != nil {
		fmt.Fprintf(os.Stderr, "mail: %v\n", err)
		os.Exit(1)
	}
}

func run(smtpAddr, httpAddr, dir string) error {
	box, err := mailbox.Open(dir)
	if err != nil {
		return err
	}
	smtpLn, err := net.Listen("tcp", smtpAddr)
	if err != nil {
		return err
	}
	httpLn, err := net.Listen("tcp", httpAddr)
	if err != nil {
		smtpLn.Close()
		return err
	}
	smtpSrv := mailbox.NewSMTPServer(box)
	httpSrv := &http.Server{Handler: mailbox.Handler(box), ReadHeaderTimeout: 5 * time.Second}
	errs := make(chan error, 2)
	go func() { errs <- smtpSrv.Serve(smtpLn) }()
	go func() { errs <- httpSrv.Serve(httpLn) }()
	fmt.Printf("mail server: SMTP %s, messages http://%s/api/messages (%d kept)\n",
		smtpLn.Addr(), httpLn.Addr(), len(box.Messages("")))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-stop:
	case err = <-errs:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(ctx)
	_ = smtpSrv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
