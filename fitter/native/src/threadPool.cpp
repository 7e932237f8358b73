#include "threadPool.h"

namespace fitter {

ThreadPool& ThreadPool::instance() {
  static ThreadPool pool;
  return pool;
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::ensureWorkers(int n) {
  while (static_cast<int>(workers_.size()) < n) {
    int id = static_cast<int>(workers_.size()) + 1;
    workers_.emplace_back([this, id] { workerLoop(id); });
  }
}

void ThreadPool::workerLoop(int id) {
  long seen = 0;
  for (;;) {
    const std::function<void(int)>* task;
    {
      std::unique_lock<std::mutex> lk(m_);
      wake_.wait(lk, [&] { return stop_ || (generation_ != seen && id < active_); });
      if (stop_) return;
      seen = generation_;
      task = task_;
    }
    (*task)(id);
    {
      std::lock_guard<std::mutex> lk(m_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::run(int nthreads, const std::function<void(int)>& task) {
  if (nthreads <= 1) {
    task(0);
    return;
  }
  std::lock_guard<std::mutex> runLock(runMutex_);
  ensureWorkers(nthreads - 1);
  {
    std::lock_guard<std::mutex> lk(m_);
    task_ = &task;
    active_ = nthreads;
    pending_ = nthreads - 1;
    ++generation_;
  }
  wake_.notify_all();
  task(0);
  std::unique_lock<std::mutex> lk(m_);
  done_.wait(lk, [&] { return pending_ == 0; });
  task_ = nullptr;
}

std::vector<long> evenSplit(long n, int nparts) {
  std::vector<long> b(nparts + 1);
  for (int i = 0; i <= nparts; i++) b[i] = n * i / nparts;
  return b;
}

}  // namespace fitter
