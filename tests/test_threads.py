"""The thread policy (hf_ser.data.threads): cores from the affinity, shared by processes and workers."""

from __future__ import annotations

import os

import pytest
import torch

from hf_ser.data import threads


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("OMP_NUM_THREADS", "LOCAL_WORLD_SIZE", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_cores_come_from_the_affinity(monkeypatch):
    monkeypatch.undo()  # the real function
    if hasattr(os, "sched_getaffinity"):
        assert threads.available_cores() == len(os.sched_getaffinity(0))


def test_large_models_share_the_cores_among_processes_and_workers(monkeypatch):
    assert threads.recommended_threads(100_000_000) == 8
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert threads.recommended_threads(100_000_000) == 4
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # per machine wins over the whole job
    assert threads.recommended_threads(100_000_000, data_workers=1) == 1
    assert threads.recommended_threads(100_000_000, data_workers=6) == 1  # never below one


def test_small_models_run_on_one_thread_and_the_user_setting_wins(monkeypatch):
    assert threads.recommended_threads(46_000) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.recommended_threads(46_000) == 3
    assert threads.recommended_threads(100_000_000) == 3


def test_configure_threads_sets_torch():
    assert threads.configure_threads(torch.nn.Linear(4, 4)) == 1
    assert torch.get_num_threads() == 1


def test_data_loader_workers_run_single_threaded():
    """The collator's first batch in a worker limits that worker to one thread."""

    class Probe(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            threads.limit_worker_threads()
            return torch.get_num_threads()

    loader = torch.utils.data.DataLoader(Probe(), batch_size=None, num_workers=1)
    assert list(loader) == [1, 1]
    threads.limit_worker_threads()  # the main process is left alone
