package cli

import (
	"errors"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// numbers returns a next function that yields 0 to n-1, then err (io.EOF for
// the end).
func numbers(n int, err error) func() (int, error) {
	i := 0
	return func() (int, error) {
		if i == n {
			return 0, err
		}
		i++
		return i - 1, nil
	}
}

// slowSquare takes longer for small numbers: results come back out of order.
func slowSquare(i int) int {
	time.Sleep(time.Duration(20-i%20) * 50 * time.Microsecond)
	return i * i
}

func TestInOrder(t *testing.T) {
	stop := errors.New("stop")
	broken := errors.New("broken spool")
	tests := []struct {
		name    string
		workers int
		n       int
		nextErr error
		stopAt  int // emit fails at this result; -1: never
		want    []int
		wantErr error
	}{
		{name: "nothing", workers: 2, nextErr: io.EOF, stopAt: -1},
		{name: "in order on one worker", workers: 1, n: 30, nextErr: io.EOF, stopAt: -1, want: squares(30)},
		{name: "in order on several", workers: 4, n: 200, nextErr: io.EOF, stopAt: -1, want: squares(200)},
		{name: "no workers is one", workers: 0, n: 5, nextErr: io.EOF, stopAt: -1, want: squares(5)},
		{name: "emit stops it", workers: 3, n: 100, nextErr: io.EOF, stopAt: 10, want: squares(10), wantErr: stop},
		{name: "next fails after what it read", workers: 3, n: 7, nextErr: broken, stopAt: -1, want: squares(7), wantErr: broken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Every goroutine has ended when inOrder returns: none calls next or
			// work after.
			var returned, lateCalls atomic.Bool
			next := numbers(tc.n, tc.nextErr)
			watchedNext := func() (int, error) {
				lateCalls.CompareAndSwap(false, returned.Load())
				return next()
			}
			work := func(i int) int {
				lateCalls.CompareAndSwap(false, returned.Load())
				return slowSquare(i)
			}
			var got []int
			err := inOrder(tc.workers, watchedNext, work, func(sq int) error {
				if len(got) == tc.stopAt {
					return stop
				}
				got = append(got, sq)
				return nil
			})
			returned.Store(true)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("results = %v, want %v", got, tc.want)
			}
			time.Sleep(5 * time.Millisecond)
			if lateCalls.Load() {
				t.Error("next or work called after inOrder returned")
			}
		})
	}
}

func squares(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i * i
	}
	return out
}
