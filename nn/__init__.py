"""Neural-network modules built only from Tensor ops."""
