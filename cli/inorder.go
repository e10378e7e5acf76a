package cli

import (
	"errors"
	"io"
	"sync"
)

// inOrder runs work on the items next returns, on up to workers goroutines at
// once, and hands the results to emit in the items' order. next returns io.EOF
// after the last item. It stops at the first error of next or emit, and returns
// it once every goroutine has ended.
func inOrder[T, R any](workers int, next func() (T, error), work func(T) R, emit func(R) error) error {
	workers = max(workers, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	type job struct {
		item T
		out  chan<- R
	}
	jobs := make(chan job, workers)
	// results holds each item's result channel in the items' order; its capacity
	// bounds the items in flight.
	results := make(chan chan R, 2*workers)
	var nextErr error

	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		defer close(results)
		for {
			item, err := next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					nextErr = err
				}
				return
			}
			out := make(chan R, 1)
			select {
			case results <- out:
			case <-done:
				return
			}
			select {
			case jobs <- job{item, out}:
			case <-done:
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- work(j.item) // out has room for the one result
			}
		}()
	}

	err := func() error {
		for out := range results {
			if err := emit(<-out); err != nil {
				return err
			}
		}
		return nil
	}()
	close(done)
	wg.Wait()
	if err != nil {
		return err
	}
	return nextErr // read after the producer ended
}
