"""A stand-in for gymnasium in the reinforcement-learning ports: `make('CartPole-v1')` gives
CartPole's dynamics and interface (reset(seed) -> (obs, info), step(a) -> (obs, reward,
terminated, truncated, info), spec.reward_threshold), with a time limit of 100 steps and a
threshold of 50 so that a port solves it in seconds. It keeps every episode's length."""
import math
from types import SimpleNamespace

import numpy as np


class CartPole:
    def __init__(self, max_episode_steps=100, reward_threshold=50.0):
        self.spec = SimpleNamespace(id='CartPole-v1', reward_threshold=reward_threshold,
                                    max_episode_steps=max_episode_steps)
        self.np_random = np.random.default_rng()
        self.episode_lengths = []

    def reset(self, seed=None):
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self.state = self.np_random.uniform(-0.05, 0.05, 4)
        self.episode_lengths.append(0)
        return self.state.astype(np.float32), {}

    def step(self, action):
        if action not in (0, 1):
            raise ValueError(f"CartPole: action must be 0 or 1, got {action!r}")
        x, x_dot, theta, theta_dot = self.state
        force = 10.0 if action == 1 else -10.0  # gymnasium's constants: g 9.8, cart 1.0,
        cos, sin = math.cos(theta), math.sin(theta)  # pole 0.1 of half-length 0.5, tau 0.02
        temp = (force + 0.05 * theta_dot ** 2 * sin) / 1.1
        theta_acc = (9.8 * sin - cos * temp) / (0.5 * (4.0 / 3.0 - 0.1 * cos ** 2 / 1.1))
        x_acc = temp - 0.05 * theta_acc * cos / 1.1
        x, x_dot = x + 0.02 * x_dot, x_dot + 0.02 * x_acc
        theta, theta_dot = theta + 0.02 * theta_dot, theta_dot + 0.02 * theta_acc
        self.state = np.array([x, x_dot, theta, theta_dot])
        self.episode_lengths[-1] += 1
        terminated = bool(abs(x) > 2.4 or abs(theta) > 12 * 2 * math.pi / 360)
        truncated = self.episode_lengths[-1] >= self.spec.max_episode_steps
        return self.state.astype(np.float32), 1.0, terminated, truncated, {}

    def render(self):
        pass


def make(id, render_mode=None):
    if id != 'CartPole-v1':
        raise ValueError(f"only CartPole-v1 here, got {id!r}")
    return CartPole()
