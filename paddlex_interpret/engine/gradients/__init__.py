"""Input-gradient family: SmoothGrad, Integrated Gradients, GradientSHAP."""
