package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cuegate/cuegate/internal/node"
	"github.com/cuegate/cuegate/portal"
	"github.com/cuegate/cuegate/portal/store"
)

func init() {
	register(command{"developer", "add, list or remove portal developer accounts", runDeveloper})
}

const developerUsage = `usage:
  cuegate developer add    (--state FILE | --admin ADDR) [--password-file FILE] EMAIL
  cuegate developer list   (--state FILE | --admin ADDR)
  cuegate developer remove (--state FILE | --admin ADDR) EMAIL

--state changes the state file itself, which cuegate serve locks while it
runs. --admin changes it through the running node instead: ADDR is the
node's admin_listen address (e.g. 127.0.0.1:9090), whose /portal/ endpoints
do the same; keep that address private, as the password travels to it.
When the node has a gateway.admin_token, --admin-token-file FILE (or the
environment variable CUEGATE_ADMIN_TOKEN) gives it.
add reads the password from --password-file, else from the first line of
standard input, and creates the state file when there is none; list and
remove refuse a --state file that does not exist. remove also revokes the
developer's clients at the gateway (their registrations at the identity
provider remain).`

// developerAccounts is what cuegate developer changes: the state file
// (portal.Accounts) or a running node's operator endpoints.
type developerAccounts interface {
	Add(email, password string) (portal.Account, error)
	List() ([]portal.Account, error)
	Remove(email string) (portal.Removal, error)
}

func runDeveloper(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, developerUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub := args[0]
	fs := flag.NewFlagSet("developer "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, developerUsage) }
	state := fs.String("state", "", "the portal's state file")
	admin := fs.String("admin", "", "the admin_listen address of the cuegate serve that holds the state file")
	adminTokenFile := fs.String("admin-token-file", "", "with --admin: read the node's admin_token from this file (default: $CUEGATE_ADMIN_TOKEN)")
	var passwordFile *string
	if sub == "add" {
		passwordFile = fs.String("password-file", "", "read the password from this file instead of standard input")
	}
	rest, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	wantArgs := 1
	if sub == "list" {
		wantArgs = 0
	}
	switch {
	case sub != "add" && sub != "list" && sub != "remove":
		fmt.Fprintf(stderr, "cuegate developer: unknown subcommand %q\n%s\n", sub, developerUsage)
		return exitUsage
	case (*state == "") == (*admin == "") || len(rest) != wantArgs:
		fs.Usage()
		return exitUsage
	}

	var email, password string
	if wantArgs == 1 {
		if email, err = portal.NormaliseEmail(rest[0]); err != nil {
			fmt.Fprintln(stderr, "cuegate developer:", printable(err.Error()))
			return exitInvalid
		}
	}
	if sub == "add" {
		if password, err = readPassword(*passwordFile); err != nil {
			fmt.Fprintln(stderr, "cuegate developer:", printable(err.Error()))
			return exitUsage
		}
	}

	var accounts developerAccounts
	if *admin != "" {
		token, err := readAdminToken(*adminTokenFile)
		if err != nil {
			fmt.Fprintln(stderr, "cuegate developer:", printable(err.Error()))
			return exitUsage
		}
		accounts = newRemoteAccounts(*admin, token)
	} else {
		// Only add may start a state file: a mistyped path for list or
		// remove must not leave an empty one (and its lock) behind.
		if _, err := os.Stat(*state); sub != "add" && errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "cuegate developer: no state file at %s (developer add creates one)\n", printable(*state))
			return exitUsage
		}
		st, err := store.Open(*state)
		if err != nil {
			fmt.Fprintln(stderr, "cuegate developer:", printable(err.Error()))
			if errors.Is(err, store.ErrLocked) {
				fmt.Fprintln(stderr, "cuegate developer: while cuegate serve runs on the state file, pass --admin with its admin_listen address (e.g. --admin 127.0.0.1:9090) instead of --state")
			}
			return exitUsage
		}
		defer st.Close()
		accounts = localAccounts{&portal.Accounts{Store: st}}
	}

	switch sub {
	case "add":
		var acc portal.Account
		if acc, err = accounts.Add(email, password); err == nil {
			fmt.Fprintf(stdout, "added developer %s\n", printable(acc.Email))
		}
	case "list":
		var list []portal.Account
		if list, err = accounts.List(); err == nil {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tCREATED\tCLIENTS")
			for _, a := range list {
				fmt.Fprintf(tw, "%s\t%s\t%d\n", printable(a.Email), a.Created.UTC().Format(time.RFC3339), a.Clients)
			}
			tw.Flush()
		}
	case "remove":
		var rm portal.Removal
		if rm, err = accounts.Remove(email); err == nil {
			fmt.Fprintf(stdout, "removed developer %s\n", printable(rm.Email))
			for _, c := range rm.Revoked {
				fmt.Fprintf(stdout, "revoked client %s (%s); it remains registered at the %s provider\n",
					printable(c.ClientID), printable(c.ClientName), printable(c.Provider))
			}
		}
	}
	switch {
	case errors.Is(err, portal.ErrInvalid), errors.Is(err, store.ErrExists), errors.Is(err, store.ErrNotFound):
		fmt.Fprintln(stderr, "cuegate developer:", printable(err.Error()))
		return exitInvalid
	case err != nil:
		fmt.Fprintln(stderr, "cuegate developer:", printable(err.Error()))
		return exitUsage
	}
	return exitOK
}

// printable returns s with every character a terminal would not show as
// itself (control characters such as ESC, CR and LF, bidirectional
// controls, other format characters, bytes that are not UTF-8) written as
// a Go escape (\x1b, \u202e), so that text from the state file or a node
// cannot move the cursor, recolour, reorder or forge the CLI's output.
func printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || !unicode.IsPrint(r) }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// localAccounts changes the state file directly.
type localAccounts struct{ *portal.Accounts }

func (l localAccounts) List() ([]portal.Account, error) { return l.Accounts.List(), nil }

// remoteAccounts calls the operator endpoints (portal.OperatorHandler) on
// a running node's admin listener.
type remoteAccounts struct {
	addr   string
	base   string // http://ADDR/portal
	token  string // the node's admin_token; "" sends none
	client *http.Client
}

func newRemoteAccounts(addr, token string) remoteAccounts {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return remoteAccounts{addr: addr, base: strings.TrimSuffix(base, "/") + node.OperatorPrefix, token: token, client: &http.Client{Timeout: time.Minute}}
}

// readAdminToken returns the admin token from file, else from
// $CUEGATE_ADMIN_TOKEN, else "". The error names the file, never a value.
func readAdminToken(file string) (string, error) {
	if file == "" {
		return os.Getenv("CUEGATE_ADMIN_TOKEN"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--admin-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--admin-token-file %s is empty", file)
	}
	return token, nil
}

func (r remoteAccounts) Add(email, password string) (acc portal.Account, err error) {
	err = r.call(http.MethodPost, "/developers", map[string]string{"email": email, "password": password}, &acc)
	return acc, err
}

func (r remoteAccounts) List() (list []portal.Account, err error) {
	err = r.call(http.MethodGet, "/developers", nil, &list)
	return list, err
}

func (r remoteAccounts) Remove(email string) (rm portal.Removal, err error) {
	err = r.call(http.MethodDelete, "/developers/"+url.PathEscape(email), nil, &rm)
	return rm, err
}

// call sends body as JSON and decodes the answer into out. The node's
// refusal comes back as an *operatorError.
func (r remoteAccounts) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	if err != nil {
		return fmt.Errorf("--admin %s: %w", r.addr, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w (is cuegate serve running with admin_listen %s?)", err, r.addr)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, req.URL, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%s %s: %s: the node's admin listener needs its gateway.admin_token (pass --admin-token-file FILE or set CUEGATE_ADMIN_TOKEN)", method, req.URL, resp.Status)
	}
	if resp.StatusCode/100 != 2 {
		oe := &operatorError{status: resp.StatusCode}
		if json.Unmarshal(raw, oe) != nil || oe.Code == "" {
			return fmt.Errorf("%s %s: %s (is %s the admin_listen address of a cuegate serve with --state?)", method, req.URL, resp.Status, r.addr)
		}
		return oe
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not understood: %w", method, req.URL, err)
	}
	return nil
}

// operatorError is a refusal by the node's operator endpoints. Its text is
// the node's description, the text cuegate developer --state prints for
// the same mistake, and it matches the same sentinel errors.
type operatorError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *operatorError) Error() string { return e.Description }

func (e *operatorError) Is(target error) bool {
	status, code, ok := portal.OperatorAnswer(target)
	return ok && e.status == status && e.Code == code
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// readPassword reads the first line of file, or of standard input when
// file is "".
func readPassword(file string) (string, error) {
	r := io.Reader(os.Stdin)
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password: give it on standard input or with --password-file")
	}
	return line, nil
}
