pub mod apikey;
pub mod audit;
