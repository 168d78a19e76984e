//! The sensor, behind a trait in embedded-hal's style (an error type with a kind, one method
//! per operation), and the stand-in this firmware ships: a recorded stream of real samples
//! compiled in.

/// What kind of fault a sensor had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No sample is available (the recording is empty, the sensor is not ready).
    NoSample,
    /// The caller's buffer does not fit one sample.
    Length,
}

/// A sensor fault.
pub trait Error: core::fmt::Debug {
    /// What kind of fault.
    fn kind(&self) -> ErrorKind;
}

impl Error for ErrorKind {
    fn kind(&self) -> ErrorKind {
        *self
    }
}

/// The error type of a sensor.
pub trait ErrorType {
    /// Its faults.
    type Error: Error;
}

/// A source of int8 samples of fixed length: one model input each (a day of hourly demand
/// readings for the bundled smart-meter model).
pub trait Sensor: ErrorType {
    /// Values per sample.
    fn sample_len(&self) -> usize;

    /// Fills `out` (exactly [`sample_len`](Self::sample_len) long) with the next sample.
    fn read(&mut self, out: &mut [i8]) -> Result<(), Self::Error>;
}

/// Replays a recording: samples back to back, `len` bytes each, from the start again at the
/// end.
pub struct Recorded<'a> {
    stream: &'a [u8],
    len: usize,
    next: usize,
}

impl<'a> Recorded<'a> {
    /// A recording of samples of `len` values.
    pub fn new(stream: &'a [u8], len: usize) -> Self {
        Self {
            stream,
            len,
            next: 0,
        }
    }

    /// Whole samples in the recording.
    pub fn samples(&self) -> usize {
        self.stream.len().checked_div(self.len).unwrap_or(0)
    }
}

impl ErrorType for Recorded<'_> {
    type Error = ErrorKind;
}

impl Sensor for Recorded<'_> {
    fn sample_len(&self) -> usize {
        self.len
    }

    fn read(&mut self, out: &mut [i8]) -> Result<(), ErrorKind> {
        if out.len() != self.len {
            return Err(ErrorKind::Length);
        }
        if self.samples() == 0 {
            return Err(ErrorKind::NoSample);
        }
        let start = self.next * self.len;
        let sample = self
            .stream
            .get(start..start + self.len)
            .ok_or(ErrorKind::NoSample)?;
        out.iter_mut().zip(sample).for_each(|(o, &b)| *o = b as i8);
        self.next = (self.next + 1) % self.samples();
        Ok(())
    }
}
