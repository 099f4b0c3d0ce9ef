package data

import (
	"math"
	"sort"
)

// Metrics scores predictions against gold labels with the task's metrics:
// accuracy for every classification task, plus f1 (class 1 positive) for
// MRPC and matthews for CoLA; pearson and spearman for regression. For a
// classification task pred and gold hold class indices.
func (t *Task) Metrics(pred, gold []float64) map[string]float64 {
	if t.Regression {
		return map[string]float64{"pearson": Pearson(pred, gold), "spearman": Spearman(pred, gold)}
	}
	m := map[string]float64{"accuracy": Accuracy(pred, gold)}
	switch t.Metric {
	case "f1":
		m["f1"] = F1(pred, gold)
	case "matthews":
		m["matthews"] = Matthews(pred, gold)
	}
	return m
}

// Accuracy is the fraction of equal entries.
func Accuracy(pred, gold []float64) float64 {
	if len(gold) == 0 {
		return 0
	}
	n := 0
	for i := range gold {
		if pred[i] == gold[i] {
			n++
		}
	}
	return float64(n) / float64(len(gold))
}

// confusion counts a binary confusion matrix with class 1 as positive.
func confusion(pred, gold []float64) (tp, fp, fn, tn float64) {
	for i := range gold {
		switch {
		case pred[i] == 1 && gold[i] == 1:
			tp++
		case pred[i] == 1:
			fp++
		case gold[i] == 1:
			fn++
		default:
			tn++
		}
	}
	return
}

// F1 is the F1 score of class 1 (0 when there are no true positives).
func F1(pred, gold []float64) float64 {
	tp, fp, fn, _ := confusion(pred, gold)
	if tp == 0 {
		return 0
	}
	return 2 * tp / (2*tp + fp + fn)
}

// Matthews is the Matthews correlation coefficient of a binary task (0
// when it is undefined, as scikit-learn does).
func Matthews(pred, gold []float64) float64 {
	tp, fp, fn, tn := confusion(pred, gold)
	den := math.Sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
	if den == 0 {
		return 0
	}
	return (tp*tn - fp*fn) / den
}

// Pearson is the Pearson correlation (0 when either side is constant).
func Pearson(x, y []float64) float64 {
	n := float64(len(x))
	if n == 0 {
		return 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// Spearman is the Pearson correlation of the ranks (ties get their mean
// rank).
func Spearman(x, y []float64) float64 { return Pearson(ranks(x), ranks(y)) }

func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		mean := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = mean
		}
		i = j + 1
	}
	return r
}
