// The tests start whole platforms (several processes each) on a small machine: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
