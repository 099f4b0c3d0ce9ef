package study

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Token ids reserved by the hashing tokenizer.
const (
	padID = 0
	clsID = 1
)

// example is one tokenized sentence.
type example struct {
	Row   int     // 0-based data row of the file (header excluded)
	IDs   []int64 // [seq]: [CLS], then word ids, then padding
	Len   int     // tokens before the padding, [CLS] included
	Label int64
}

// readSST2 reads a GLUE SST-2 file (header "sentence\tlabel") and
// tokenizes every row with hashTokens.
func readSST2(path string, vocab, seq int) ([]example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() {
		return nil, fmt.Errorf("%s: empty file", path)
	}
	header := strings.Split(sc.Text(), "\t")
	textCol, labelCol := indexOf(header, "sentence"), indexOf(header, "label")
	if textCol < 0 || labelCol < 0 {
		return nil, fmt.Errorf("%s: header %q has no sentence and label columns", path, sc.Text())
	}
	var out []example
	for line := 2; sc.Scan(); line++ {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) <= max(textCol, labelCol) {
			return nil, fmt.Errorf("%s:%d: want %d tab-separated columns", path, line, len(header))
		}
		label, err := strconv.ParseInt(strings.TrimSpace(cols[labelCol]), 10, 64)
		if err != nil || (label != 0 && label != 1) {
			return nil, fmt.Errorf("%s:%d: label %q is not 0 or 1", path, line, cols[labelCol])
		}
		ids, n := hashTokens(cols[textCol], vocab, seq)
		out = append(out, example{Row: len(out), IDs: ids, Len: n, Label: label})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return out, nil
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if strings.TrimSpace(x) == s {
			return i
		}
	}
	return -1
}

// hashTokens is the study's tokenizer, which needs no vocabulary file:
// lowercase, split on anything that is not a letter, and hash each word
// (FNV-1a) into the ids 2..vocab-1. Position 0 holds [CLS]; the sequence is
// truncated or padded (id 0) to seq. It returns the ids and the number of
// real tokens.
func hashTokens(sentence string, vocab, seq int) ([]int64, int) {
	ids := make([]int64, seq)
	ids[0] = clsID
	n := 1
	words := strings.FieldsFunc(strings.ToLower(sentence), func(r rune) bool { return !unicode.IsLetter(r) })
	for _, w := range words {
		if n == seq {
			break
		}
		h := fnv.New32a()
		h.Write([]byte(w))
		ids[n] = 2 + int64(h.Sum32()%uint32(vocab-2))
		n++
	}
	return ids, n
}

// subset draws n distinct examples with a fixed seed, returned in file
// order.
func subset(all []example, n int, seed int64) ([]example, error) {
	if n > len(all) {
		return nil, fmt.Errorf("want %d examples, the file has %d", n, len(all))
	}
	pick := rand.New(rand.NewSource(seed)).Perm(len(all))[:n]
	sort.Ints(pick)
	out := make([]example, n)
	for i, r := range pick {
		out[i] = all[r]
	}
	return out, nil
}
