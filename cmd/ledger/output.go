package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/exitcode"
	"github.com/civicledger/civicledger/ledger"
)

// Exit statuses of the tx and query commands (an interface: scripts rely on
// them).
const (
	exitOK          = exitcode.OK
	exitFailed      = exitcode.Failed      // the chain rejected the tx, or the record was not found
	exitUsage       = exitcode.Usage       // bad flags or arguments, bad amount, missing key: nothing was sent
	exitUnreachable = exitcode.Unreachable // the node could not be reached, or inclusion timed out
)

// usagef returns a usage error (exit status 2).
func usagef(format string, args ...any) error {
	return withExit(exitUsage, fmt.Errorf(format, args...))
}

// nodeError classifies an error returned while talking to a node: an error
// the node itself answered with (a JSON-RPC error, e.g. a full mempool) is a
// failure (exit 1); anything else — connection refused, timeout, a reply that
// is not JSON-RPC — means the node could not be reached (exit 3). Errors that
// already carry an exit status are returned unchanged.
func nodeError(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	var re *rpctypes.RPCError
	if errors.As(err, &re) {
		return withExit(exitFailed, err)
	}
	return withExit(exitUnreachable, err)
}

// requireFlags fails with a usage error naming every listed flag that was
// not set on the command line. (cobra's MarkFlagRequired errors bypass the
// flag error function and would exit with status 1.)
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			missing = append(missing, "--"+n)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return usagef("required flag %s not set (see '%s --help')", missing[0], cmd.CommandPath())
	default:
		return usagef("required flags %s not set (see '%s --help')", strings.Join(missing, ", "), cmd.CommandPath())
	}
}

// checkID is a usage error when id cannot be a record's id; what names it
// (a flag, or what it is the id of).
func checkID(what, id string) error {
	if ledger.ValidID(id) {
		return nil
	}
	if what != "" {
		what += " "
	}
	return usagef("%s%q must match [A-Za-z0-9._:-]{1,64}", what, id)
}

// checkOptionalID is checkID for an id that may be left empty.
func checkOptionalID(what, id string) error {
	if id == "" {
		return nil
	}
	return checkID(what, id)
}

// checkTotalsArgs checks the AGENCY and CURRENCY that name an agency's
// running totals.
func checkTotalsArgs(agency, currency string) error {
	if err := checkID("agency", agency); err != nil {
		return err
	}
	if _, ok := ledger.CurrencyExponent(currency); !ok {
		return usagef("unknown currency %q (want an active ISO 4217 code in upper case, e.g. EUR)", currency)
	}
	return nil
}

// parseTxHash reads a tx hash: 64 hex digits, with or without "0x".
func parseTxHash(s string) ([]byte, bool) {
	hash, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
	return hash, err == nil && len(hash) == 32
}

// groupCmd is a command that only holds subcommands: without arguments it
// prints its help; an unknown subcommand is a usage error.
func groupCmd(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(subs...)
	return c
}

// writeJSON writes v as indented JSON without HTML escaping.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// kvWriter prints aligned "key: value" lines.
type kvWriter struct{ tw *tabwriter.Writer }

func newKV(w io.Writer) *kvWriter { return &kvWriter{tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)} }

// add writes "key: value"; an empty key continues the previous key's list.
func (k *kvWriter) add(key string, format string, args ...any) {
	if key != "" {
		key += ":"
	}
	fmt.Fprintf(k.tw, "%s\t%s\n", key, sanitize(fmt.Sprintf(format, args...)))
}

func (k *kvWriter) flush() error { return k.tw.Flush() }

// newTable returns a tabwriter for column output.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// row writes one table row; cells are sanitized so that record text cannot
// break the layout or inject terminal escapes.
func row(tw io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = sanitize(c)
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// sanitize replaces tabs, newlines and other control characters with '?',
// and shows every other character that could make text look like other text
// escaped, as \u202e or \U000e0001: bidirectional controls, zero-width and
// other invisible characters (ledger.IsFormatChar), and anything Unicode does
// not call printable (format characters, private use, unassigned code
// points, invalid UTF-8, spaces other than U+0020). Record text is validated
// on chain, but records stored before a rule existed keep their text, and
// the CLI should not trust its node.
func sanitize(s string) string {
	clean := true
	for _, r := range s {
		if unusualRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteByte('?')
		case !unusualRune(r):
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			fmt.Fprintf(&b, "\\U%08x", r)
		}
	}
	return b.String()
}

// unusualRune reports whether sanitize must not print r as it is.
func unusualRune(r rune) bool {
	return r == utf8.RuneError || ledger.IsFormatChar(r) || (r != ' ' && !unicode.IsPrint(r))
}

// money formats an amount in minor units as "1250.50 EUR (125050 minor units)".
func money(a ledger.Amount, currency string) string {
	return fmt.Sprintf("%s %s (%d minor units)", ledger.FormatAmount(int64(a), currency), currency, int64(a))
}

// shortMoney formats an amount for tables: "1250.50 EUR".
func shortMoney(a ledger.Amount, currency string) string {
	return ledger.FormatAmount(int64(a), currency) + " " + currency
}

// party is a party as the CLI prints it; a natural person by its label,
// region and commitment (the chain holds nothing else).
func party(p ledger.Party) string {
	if in := p.Individual; in != nil {
		if in.Region != "" {
			return fmt.Sprintf("%s, %s (individual %s)", in.Label, in.Region, in.Commitment)
		}
		return fmt.Sprintf("%s (individual %s)", in.Label, in.Commitment)
	}
	return fmt.Sprintf("%s (%s %s)", p.Name, p.Scheme, p.ID)
}

// b64 is how the CLI shows keys: base64, as agency records hold them.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// hexToB64 shows a key a library gives in hex (bundle signers) as b64
// does; what is not hex is shown as it is.
func hexToB64(h string) string {
	if b, err := hex.DecodeString(h); err == nil {
		return b64(b)
	}
	return sanitize(h)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func roleList(rs []ledger.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// ruleOf names the ledger rule behind a result code, if it is one.
func ruleOf(code uint32) string {
	for _, e := range ledger.Errors() {
		if uint32(e.Code) == code {
			return e.Msg
		}
	}
	if code == uint32(ledger.CodeInternal) {
		return "internal error"
	}
	return "code " + strconv.FormatUint(uint64(code), 10)
}

// heightFlag registers --height on fs.
func heightFlag(fs *pflag.FlagSet, h *int64) {
	fs.Int64Var(h, "height", 0, "read at this committed height (0: latest)")
}

// rpcTransportNoise is what CometBFT's RPC client and net/http put before a
// transport error ("post failed: Post \"http://host:port\": "); a
// client.NodeError after it already names the node and says what failed.
var rpcTransportNoise = regexp.MustCompile(`post failed: (?:Post|Get) "[^"]*": `)

// cliWords are the CLI's words for the client library's errors, whose
// messages name no command or flag: each phrase of the library, and what the
// CLI says instead (the phrase, with what to do about it).
var cliWords = [][2]string{
	{client.ErrNoTrust.Error(), client.ErrNoTrust.Error() + ": run 'ledger trust init --genesis FILE' (or --height H --hash HEX)"},
	{client.ErrCheckpointRoot.Error(), client.ErrCheckpointRoot.Error() + "; run 'ledger trust init --genesis FILE'"},
	{client.ErrFirstBlockNeedsGenesis.Error(), client.ErrFirstBlockNeedsGenesis.Error() + " ('ledger trust init --genesis')"},
	{client.ErrNodeFarBehind.Error(), client.ErrNodeFarBehind.Error() + " (use another --node)"},
	{client.ErrOldState.Error(), client.ErrOldState.Error() + " (pass --height to verify an earlier state on purpose)"},
	{"(" + client.HostTypoHint + ")", "(a typo in --node?)"},
}

// cliReplacer rewords with cliWords; text already in the CLI's words is
// kept as it is (each worded phrase comes first, replaced by itself), so
// rewording twice changes nothing.
var cliReplacer = func() *strings.Replacer {
	var oldnew []string
	for _, w := range cliWords {
		oldnew = append(oldnew, w[1], w[1])
	}
	for _, w := range cliWords {
		oldnew = append(oldnew, w[0], w[1])
	}
	return strings.NewReplacer(oldnew...)
}()

// cliText is library text (an error's message, a step's detail) in the
// CLI's words (cliWords).
func cliText(s string) string { return cliReplacer.Replace(s) }

// errorText is the message of err as the user reads it: in the CLI's words
// (cliText), without the RPC transport's noise before a client.NodeError,
// and sanitized.
func errorText(err error) string {
	s := cliText(err.Error())
	var ne *client.NodeError
	if errors.As(err, &ne) {
		s = rpcTransportNoise.ReplaceAllString(s, "")
	}
	return sanitize(s)
}

// writeReport prints a verification report as JSON (-o json) or as text, and
// returns the verification's error (its verdict), or the writing's if that
// failed while the verification did not.
func writeReport[T any](w io.Writer, format string, out T, text func(io.Writer, T) error, verr error) error {
	var err error
	if format == "json" {
		err = writeJSON(w, out)
	} else {
		err = text(w, out)
	}
	if err != nil && verr == nil {
		return err
	}
	return verr
}

// outTarget words what --out (or -o, on commands that write files) names.
type outTarget struct {
	noun   string // "the directory"
	meta   string // "DIR"
	writeA string // "write to a directory named"
	a      string // "a directory"
}

// outPath returns the path named by --out (the flag outFlag) or -o/--output
// on a command where -o names what it writes rather than an output format.
func outPath(cmd *cobra.Command, outFlag, out, output string, t outTarget) (string, error) {
	outSet, oSet := cmd.Flags().Changed(outFlag), cmd.Flags().Changed(flagOutput)
	p := out
	switch {
	case outSet && oSet && out != output:
		return "", usagef("--out %q and -o/--output %q disagree: name %s once", out, output, t.noun)
	case !outSet && !oSet:
		return "", usagef("required flag --out %s (or -o %s) not set (see '%s --help')", t.meta, t.meta, cmd.CommandPath())
	case !outSet:
		p = output
		if p == "text" || p == "json" {
			return "", usagef("-o %s: on '%s', -o names %s, not the output format; to %s %q, use --out ./%s", p, cmd.CommandPath(), t.noun, t.writeA, p, p)
		}
	}
	if strings.TrimSpace(p) == "" {
		return "", usagef("--out must name %s", t.a)
	}
	return p, nil
}

// noWitnessWarning is printed when headers were verified from the trust root
// alone, with no other agency's node to cross-check them.
const noWitnessWarning = "no independent witness: headers are verified from the trust root but not cross-checked with another node; pass --witness URL of a node run by another agency"
