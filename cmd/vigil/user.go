package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"vigil/runtime/access"
)

func init() {
	register("user hash", "Hash a password for a user block's password_hash", runUserHash)
}

// userStdin is where vigil user hash reads the password; tests replace it.
var userStdin io.Reader = os.Stdin

func runUserHash(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("user hash", stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil user hash\n\n"+
			"Reads a password and prints its Argon2id hash ($argon2id$v=19$…) for the\n"+
			"password_hash of a user block. On a terminal it asks for the password twice\n"+
			"without showing it; otherwise it reads the first line of stdin:\n\n"+
			"    printf '%%s\\n' \"$PASSWORD\" | vigil user hash\n\n"+
			"The password itself is never stored or printed.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	password, err := readPassword(userStdin, stderr)
	if err != nil {
		return fail(stdout, stderr, false, err)
	}
	hash, err := access.HashPassword(password)
	if err != nil {
		return fail(stdout, stderr, false, err)
	}
	fmt.Fprintln(stdout, hash)
	return exitOK
}

// readPassword reads a password from in: from a terminal, twice and without
// echo, prompting on prompt; from anything else, its first line.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok {
		if old, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			return readTerminalPassword(f, old, prompt)
		}
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	password := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if password == "" {
		return "", errors.New("no password on stdin: give it as the first line, or run vigil user hash on a terminal")
	}
	return password, nil
}

// readTerminalPassword turns the terminal's echo off while the password is
// typed twice, and back on whatever happens.
func readTerminalPassword(tty *os.File, old *unix.Termios, prompt io.Writer) (string, error) {
	fd := int(tty.Fd())
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", fmt.Errorf("turning the terminal's echo off: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	// Ctrl-C while the echo is off must not leave the terminal silent.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer func() {
		signal.Stop(sig)
		close(done)
	}()
	go func() {
		select {
		case <-sig:
			unix.IoctlSetTermios(fd, unix.TCSETS, old)
			fmt.Fprintln(prompt)
			os.Exit(130)
		case <-done:
		}
	}()
	r := bufio.NewReader(tty)
	read := func(label string) (string, error) {
		fmt.Fprint(prompt, label)
		line, err := r.ReadString('\n')
		fmt.Fprintln(prompt)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
	}
	first, err := read("Password: ")
	if err != nil {
		return "", err
	}
	if first == "" {
		return "", errors.New("the password is empty")
	}
	again, err := read("Password again: ")
	if err != nil {
		return "", err
	}
	if again != first {
		return "", errors.New("the two passwords differ; nothing was hashed")
	}
	return first, nil
}
