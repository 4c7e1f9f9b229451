package ledger

// formatRanges are the code points that text fields of records and
// transactions must not hold: characters that change how the text around
// them is displayed or that display as nothing, so that one name can be made
// to look like another ("Acme Ltd" with a zero-width space, or a right-to-left
// override that shows "dtL emcA" reversed) while comparing differently. The
// table is fixed here rather than taken from the unicode package, whose
// tables follow the Unicode version of each Go release: validity is a
// consensus rule and must not change with the compiler. Sorted, inclusive.
var formatRanges = [][2]rune{
	{0x00AD, 0x00AD},   // soft hyphen
	{0x034F, 0x034F},   // combining grapheme joiner
	{0x061C, 0x061C},   // Arabic letter mark
	{0x115F, 0x1160},   // Hangul choseong and jungseong fillers (display as nothing)
	{0x17B4, 0x17B5},   // Khmer inherent vowels (invisible)
	{0x180B, 0x180F},   // Mongolian free variation selectors and vowel separator
	{0x200B, 0x200F},   // zero-width space, non-joiner, joiner; left-to-right and right-to-left marks
	{0x202A, 0x202E},   // bidirectional embeddings and overrides
	{0x2060, 0x2064},   // word joiner, invisible operators
	{0x2066, 0x206F},   // bidirectional isolates, deprecated format characters
	{0x3164, 0x3164},   // Hangul filler
	{0xFE00, 0xFE0F},   // variation selectors
	{0xFEFF, 0xFEFF},   // zero-width no-break space (byte order mark)
	{0xFFA0, 0xFFA0},   // halfwidth Hangul filler
	{0xFFF9, 0xFFFB},   // interlinear annotation
	{0x1D173, 0x1D17A}, // musical symbol format characters
	{0xE0000, 0xE0FFF}, // tags and variation selectors supplement
}

// IsFormatChar reports whether r is a bidirectional control, a zero-width or
// otherwise invisible character that text fields reject (see formatRanges).
// The CLI uses it to show such characters escaped in records stored before
// the rule existed.
func IsFormatChar(r rune) bool {
	lo, hi := 0, len(formatRanges)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case r < formatRanges[m][0]:
			hi = m
		case r > formatRanges[m][1]:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}
