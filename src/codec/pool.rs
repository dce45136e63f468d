//! Worker threads that transform chunks of bytes (base64 encoding or decoding them, numbers
//! formatted as text), with the results taken in the order the chunks were given, whatever
//! order they finish in.
//!
//! The workers own nothing but the buffers they are handed, so they need no scope: they stop
//! when the pool is dropped, which waits for them, so that no thread outlives its pool.

use std::num::NonZeroUsize;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread;

use crate::codec::io::AlignedBuf;

/// What a worker does to a chunk: transforms `input` into the front of `output` and returns
/// the length written, or `None` if it cannot (the caller then handles the chunk itself).
pub type Work = Arc<dyn Fn(&[u8], &mut [u8]) -> Option<usize> + Send + Sync>;

/// Every core this process may use: the threads of work that is all computing.
pub fn every_core() -> NonZeroUsize {
    thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// A chunk and where its result goes.
pub struct Chunk {
    pub input: AlignedBuf,
    /// Bytes of `input` that hold data.
    pub filled: usize,
    pub output: AlignedBuf,
    /// What `work` returned; `None` until a worker has seen the chunk.
    pub produced: Option<usize>,
}

struct Job {
    chunk: Chunk,
    done: mpsc::SyncSender<Chunk>,
}

pub struct Pool {
    /// Taken on drop, which stops the workers.
    jobs: Option<mpsc::Sender<Job>>,
    workers: Vec<thread::JoinHandle<()>>,
}

/// Where a chunk handed to the pool comes back, once done.
pub struct Ticket(mpsc::Receiver<Chunk>);

impl Ticket {
    pub fn wait(self) -> Chunk {
        // A worker that panicked drops the sender; the pool raises its panic when dropped.
        self.0.recv().expect("a worker panicked")
    }
}

impl Pool {
    pub fn new(
        threads: NonZeroUsize,
        work: impl Fn(&[u8], &mut [u8]) -> Option<usize> + Send + Sync + 'static,
    ) -> Pool {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let work: Work = Arc::new(work);
        let workers = (0..threads.get())
            .map(|_| {
                let queue = Arc::clone(&queue);
                let work = Arc::clone(&work);
                thread::spawn(move || serve(&queue, &work))
            })
            .collect();
        Pool {
            jobs: Some(jobs),
            workers,
        }
    }

    /// How many workers there are.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Hands a filled chunk to the workers.
    pub fn submit(&self, mut chunk: Chunk) -> Ticket {
        chunk.produced = None;
        let (done, result) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().expect("jobs are open until drop");
        // The workers only stop once `jobs` is dropped, so they are there to receive it.
        jobs.send(Job { chunk, done })
            .expect("the workers outlive the pool");
        Ticket(result)
    }
}

impl Chunk {
    pub fn new(input_size: usize, output_size: usize) -> Chunk {
        Chunk {
            input: AlignedBuf::new(input_size),
            filled: 0,
            output: AlignedBuf::new(output_size),
            produced: None,
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            // A worker's panic was seen as a closed channel already.
            let _ = worker.join();
        }
    }
}

fn serve(queue: &Mutex<mpsc::Receiver<Job>>, work: &Work) {
    loop {
        let job = {
            let queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let Job { mut chunk, done } = job;
        chunk.produced = work(&chunk.input[..chunk.filled], &mut chunk.output);
        // The pool may be gone, on an error elsewhere: the chunk is simply dropped.
        let _ = done.send(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doubles each byte; refuses a chunk that starts with 0.
    fn double(input: &[u8], output: &mut [u8]) -> Option<usize> {
        if input.first() == Some(&0) {
            return None;
        }
        for (index, byte) in input.iter().enumerate() {
            output[2 * index] = *byte;
            output[2 * index + 1] = *byte;
        }
        Some(2 * input.len())
    }

    fn chunk(byte: u8) -> Chunk {
        let mut chunk = Chunk::new(4, 8);
        chunk.input[0] = byte;
        chunk.filled = 1;
        chunk
    }

    #[test]
    fn each_ticket_gives_its_own_chunk_back_and_refusals_come_back_as_none() {
        let pool = Pool::new(NonZeroUsize::new(3).unwrap(), double);
        let tickets: Vec<Ticket> = (0..50u8).map(|byte| pool.submit(chunk(byte))).collect();
        for (byte, ticket) in tickets.into_iter().enumerate() {
            let chunk = ticket.wait();
            let produced = chunk.produced.map(|length| chunk.output[..length].to_vec());
            let expected = (byte > 0).then(|| vec![byte as u8; 2]);
            assert_eq!(produced, expected);
        }
    }

    #[test]
    fn dropping_a_pool_with_chunks_in_flight_stops_its_workers() {
        let pool = Pool::new(NonZeroUsize::new(2).unwrap(), double);
        let tickets: Vec<Ticket> = (1..6).map(|byte| pool.submit(chunk(byte))).collect();
        drop(pool);
        drop(tickets);
    }
}
